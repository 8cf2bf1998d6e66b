// Settings: users and roles, API keys (shown once at creation, revocable), enrolment tokens with the
// command that installs an agent with them (alert sinks have their own page: pages/alert-sinks.tsx). Users and
// API keys are cursor-paged lists: "More …" reads the next page.

import { useState, type FormEvent } from 'react';
import { Alert, Button, Code, CopyButton, Group, NumberInput, PasswordInput, Select, Stack, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useApiAction, useApiKeys, useUsers } from '../api/queries.ts';
import { formatTime } from '../components/format.ts';
import { ErrorState, QueryState } from '../components/query-state.tsx';

const ROLES = ['admin', 'analyst', 'responder', 'viewer'];

/** The button that reads the next page of a cursor-paged list, while there is one. */
function LoadMore({ list, what }: { list: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage(): unknown }; what: string }) {
  if (!list.hasNextPage) return null;
  return <Button variant="light" w="fit-content" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>More {what}</Button>;
}

function Users() {
  const users = useUsers();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<string | null>('analyst');
  const create = useApiAction(() => ({ path: '/users', body: { email, password, role } }), ['users']);
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(undefined, { onSuccess: () => { setEmail(''); setPassword(''); } }); };
  return (
    <Stack>
      <QueryState query={users} what="Users" isEmpty={(d) => d.pages[0].items.length === 0}>
        {(d) => (
          <Table fz="sm" aria-label="Users"><Table.Thead><Table.Tr><Table.Th>E-mail</Table.Th><Table.Th>Role</Table.Th><Table.Th>Tenant</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{d.pages.flatMap((p) => p.items).map((u) => <Table.Tr key={u.id}><Table.Td>{u.email}</Table.Td><Table.Td>{u.role}</Table.Td><Table.Td>{u.tenant_id}</Table.Td></Table.Tr>)}</Table.Tbody></Table>
        )}
      </QueryState>
      <LoadMore list={users} what="users" />
      <form onSubmit={submit}>
        <Group align="flex-end">
          <TextInput label="E-mail" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
          <PasswordInput label="Initial password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          <Select label="Role" data={ROLES} value={role} onChange={setRole} w={140} />
          <Button type="submit" loading={create.isPending}>Add user</Button>
        </Group>
      </form>
      {create.isError && <ErrorState error={create.error} what="New user" />}
    </Stack>
  );
}

function ApiKeys() {
  const keys = useApiKeys();
  const [name, setName] = useState('');
  const [role, setRole] = useState<string | null>('viewer');
  const create = useApiAction(() => ({ path: '/api-keys', body: { name, role } }), ['api-keys']);
  const revoke = useApiAction((id: string) => ({ path: `/api-keys/${encodeURIComponent(id)}/revoke` }), ['api-keys']);
  const created = create.data as { key?: string } | undefined;
  return (
    <Stack>
      <QueryState query={keys} what="API keys" isEmpty={(d) => d.pages[0].items.length === 0}>
        {(d) => (
          <Table fz="sm" aria-label="API keys"><Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>Created</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>{d.pages.flatMap((p) => p.items).map((k) => (
              <Table.Tr key={k.id}><Table.Td>{k.name}</Table.Td><Table.Td>{k.role}</Table.Td><Table.Td>{formatTime(k.created_at)}</Table.Td>
                <Table.Td>{k.revoked_at ? `revoked ${formatTime(k.revoked_at)}` : <Button size="xs" variant="subtle" color="red" onClick={() => { if (confirm(`Revoke API key ${k.name}?`)) revoke.mutate(k.id); }}>Revoke</Button>}</Table.Td></Table.Tr>
            ))}</Table.Tbody></Table>
        )}
      </QueryState>
      <LoadMore list={keys} what="API keys" />
      <Group align="flex-end">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <Select label="Role" data={ROLES} value={role} onChange={setRole} w={140} />
        <Button disabled={!name.trim()} loading={create.isPending} onClick={() => create.mutate(undefined)}>Create API key</Button>
      </Group>
      {created?.key && <Alert color="green" title="API key created: copy it now, it is not shown again"><Code>{created.key}</Code></Alert>}
      {(create.isError || revoke.isError) && <ErrorState error={create.error ?? revoke.error} what="API key" />}
    </Stack>
  );
}

/** POST /enrollment-tokens: the token (shown once) and what a new host needs to enrol with it. */
interface NewToken {
  id: string; token: string; expires_at: string; max_uses: number | null;
  agent_endpoint?: string | null; ca_pem?: string | null; install_command?: string | null;
}

/** A command or value in a block with a copy button. */
function Copyable({ value, label, testId }: { value: string; label: string; testId?: string }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid={testId}>{value}</Code>
      <CopyButton value={value}>
        {({ copied, copy }) => <Button size="xs" variant={copied ? 'filled' : 'light'} color={copied ? 'teal' : undefined} onClick={copy} aria-label={`Copy ${label}`}>{copied ? 'Copied' : 'Copy'}</Button>}
      </CopyButton>
    </Group>
  );
}

/** What to do when the server cannot write the install command: which value it lacks and how to supply it. */
function NoInstallCommand({ t }: { t: NewToken }) {
  const missing = [!t.agent_endpoint && 'the agents\' gRPC address', !t.ca_pem && 'the CA certificate'].filter(Boolean).join(' and ');
  const manual = `npx vigil agent --server '${t.agent_endpoint ?? '<ingest-host>:<grpc-port>'}' --ca vigil-ca.pem --token '${t.token}'`;
  return (
    <Alert color="yellow" title={`No install command: this API process does not know ${missing}`} data-testid="install-command-missing">
      <Stack gap="xs">
        <Text size="sm">
          This happens in a scale-out deployment whose API role was started without them. Give the API role
          {!t.agent_endpoint && <> the address agents dial (<Code>--agent-endpoint HOST:PORT</Code> or <Code>VIGIL_AGENT_ENDPOINT</Code>: the ingest role's gRPC address)</>}
          {!t.agent_endpoint && !t.ca_pem && ' and'}
          {!t.ca_pem && <> the deployment's CA (<Code>&lt;pki-dir&gt;/ca.pem</Code>, read with <Code>--pki-dir</Code>)</>}
          , then create a new token. Until then, on the new host, copy the CA certificate (<Code>ca.pem</Code> of the
          deployment's PKI directory) to <Code>vigil-ca.pem</Code> and run, from a Vigil checkout after <Code>bash scripts/install.sh</Code>:
        </Text>
        <Copyable value={manual} label="agent command" testId="manual-agent-command" />
      </Stack>
    </Alert>
  );
}

function EnrolmentTokens() {
  const [ttlHours, setTtlHours] = useState<number | string>(24);
  const [maxUses, setMaxUses] = useState<number | string>(1);
  const create = useApiAction(() => ({ path: '/enrollment-tokens', body: { ttl_seconds: Number(ttlHours) * 3600, max_uses: Number(maxUses) } }), []);
  const t = create.data as NewToken | undefined;
  return (
    <Stack>
      <Group align="flex-end">
        <NumberInput label="Valid for (hours)" min={1} max={720} value={ttlHours} onChange={setTtlHours} w={160} />
        <NumberInput label="Uses" min={1} max={10000} value={maxUses} onChange={setMaxUses} w={120} />
        <Button loading={create.isPending} onClick={() => create.mutate(undefined)}>Create enrolment token</Button>
      </Group>
      {t && (
        <Alert color="green" title={`Token for ${t.max_uses ?? 'any number of'} agent(s), valid until ${formatTime(t.expires_at)}: copy it now, it is not shown again`} data-testid="enrolment-token">
          <Stack gap="sm">
            <Copyable value={t.token} label="token" testId="enrolment-token-value" />
            <Text size="sm">Agents connect to <Code data-testid="agent-endpoint">{t.agent_endpoint ?? 'unknown (below)'}</Code>.
              {t.agent_endpoint && /^(127\.|localhost[:]|\[::1\])/.test(t.agent_endpoint) && <Text span c="orange" inherit fw={600}> This is a loopback address: only an agent on the server's own machine can reach it. For other hosts, start the server with <Code>--grpc 0.0.0.0:PORT</Code> (or set <Code>--agent-endpoint</Code>) and create a new token.</Text>}
            </Text>
            {t.install_command ? (
              <>
                <Text size="sm">
                  Install an agent: on the new host, in a Vigil checkout after <Code>bash scripts/install.sh</Code>, run this
                  command as it is (it writes the CA certificate to <Code>vigil-ca.pem</Code> and starts the agent, which keeps its
                  identity in <Code>./agent-data</Code> and needs the token only the first time):
                </Text>
                <Copyable value={t.install_command} label="install command" testId="install-command" />
              </>
            ) : <NoInstallCommand t={t} />}
          </Stack>
        </Alert>
      )}
      {create.isError && <ErrorState error={create.error} what="Enrolment token" />}
    </Stack>
  );
}

export function SettingsPage() {
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Tabs defaultValue="tokens" keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="tokens">Enrolment tokens</Tabs.Tab>
          <Tabs.Tab value="users">Users and roles</Tabs.Tab>
          <Tabs.Tab value="keys">API keys</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="tokens"><EnrolmentTokens /></Tabs.Panel>
        <Tabs.Panel value="users"><Users /></Tabs.Panel>
        <Tabs.Panel value="keys"><ApiKeys /></Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
