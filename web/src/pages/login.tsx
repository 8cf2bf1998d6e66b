// Sign-in: e-mail and password (with a TOTP code when the account has MFA), or an API key for service
// accounts. Explains each refusal the API gives (bad credentials, MFA, locked, disabled).

import { useState, type FormEvent } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Tabs, TextInput, Title } from '@mantine/core';
import { ApiError, login, signInWithApiKey } from '../api/client.ts';

const REFUSALS: Record<string, string> = {
  bad_credentials: 'Wrong e-mail or password.',
  mfa_required: 'Enter the 6-digit code from your authenticator app.',
  mfa_invalid: 'That code is not valid. Try the current one.',
  locked: 'The account is locked after too many failed attempts. Try again later.',
  disabled: 'The account is disabled. Ask an administrator.',
};

function explain(e: unknown, passwordLogin: boolean): string {
  if (e instanceof ApiError) {
    if (passwordLogin && e.endpointMissing) return 'Password sign-in is not available on this server yet: sign in with an API key.';
    if (e.problem.code && REFUSALS[e.problem.code]) return REFUSALS[e.problem.code];
    if (e.status === 401) return passwordLogin ? REFUSALS.bad_credentials : 'This API key is not valid or was revoked.';
    return e.message;
  }
  return `The server could not be reached (${e instanceof Error ? e.message : String(e)}).`;
}

/** Runs a sign-in attempt with busy and error state. */
function useAttempt() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (attempt: () => Promise<void>) => {
    setBusy(true); setError(null);
    try { await attempt(); } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return { busy, error, run };
}

function PasswordForm() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const { busy, error, run } = useAttempt();
  const code = error instanceof ApiError ? error.problem.code : undefined;
  const askTotp = code === 'mfa_required' || code === 'mfa_invalid' || totp !== '';
  const submit = (e: FormEvent) => { e.preventDefault(); void run(() => login(email, password, totp || undefined)); };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="E-mail" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
        <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
        {askTotp && <TextInput label="Authentication code" inputMode="numeric" autoComplete="one-time-code" maxLength={8} autoFocus
          value={totp} onChange={(e) => setTotp(e.currentTarget.value)} />}
        {error !== null && <Alert color={code === 'mfa_required' ? 'blue' : 'red'} role="alert">{explain(error, true)}</Alert>}
        <Button type="submit" loading={busy}>Sign in</Button>
      </Stack>
    </form>
  );
}

function ApiKeyForm() {
  const [key, setKey] = useState('');
  const { busy, error, run } = useAttempt();
  const submit = (e: FormEvent) => { e.preventDefault(); void run(() => signInWithApiKey(key.trim())); };
  return (
    <form onSubmit={submit}>
      <Stack>
        <PasswordInput label="API key" required value={key} onChange={(e) => setKey(e.currentTarget.value)}
          description="For service accounts; the admin key of `vigil up` is in DATA_DIR/admin-api-key." />
        {error !== null && <Alert color="red" role="alert">{explain(error, false)}</Alert>}
        <Button type="submit" loading={busy}>Sign in with API key</Button>
      </Stack>
    </form>
  );
}

export function LoginPage() {
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420}>
        <Title order={2} mb="md">Sign in to Vigil</Title>
        <Tabs defaultValue="password" keepMounted={false}>
          <Tabs.List grow mb="md">
            <Tabs.Tab value="password">E-mail and password</Tabs.Tab>
            <Tabs.Tab value="api-key">API key</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="password"><PasswordForm /></Tabs.Panel>
          <Tabs.Panel value="api-key"><ApiKeyForm /></Tabs.Panel>
        </Tabs>
      </Paper>
    </Center>
  );
}
