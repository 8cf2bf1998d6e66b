// Settings: users and roles, API keys (shown once at creation, revocable), enrolment tokens with the
// command that installs an agent with them, and alert sinks (webhooks every new alert is sent to). Users and
// API keys are cursor-paged lists: "More …" reads the next page.

import { useState, type FormEvent } from 'react';
import { Alert, Button, Code, Group, NumberInput, PasswordInput, Select, Stack, Table, Tabs, TextInput, Title } from '@mantine/core';
import { useAlertSinks, useApiAction, useApiKeys, useUsers } from '../api/queries.ts';
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

function AlertSinks() {
  const sinks = useAlertSinks();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const create = useApiAction(() => ({ path: '/alert-sinks', body: { name, url, ...(secret ? { secret } : {}) } }), ['alert-sinks']);
  const remove = useApiAction((id: string) => ({ path: `/alert-sinks/${encodeURIComponent(id)}`, method: 'DELETE' }), ['alert-sinks']);
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(undefined, { onSuccess: () => { setName(''); setUrl(''); setSecret(''); } }); };
  return (
    <Stack>
      <QueryState query={sinks} what="Alert sinks" isEmpty={(d) => d.alert_sinks.length === 0}>
        {(d) => (
          <Table fz="sm" aria-label="Alert sinks"><Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>URL</Table.Th><Table.Th>Signed</Table.Th><Table.Th>Created</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>{d.alert_sinks.map((s) => (
              <Table.Tr key={s.id}><Table.Td>{s.name}</Table.Td><Table.Td><Code>{s.url}</Code></Table.Td><Table.Td>{s.has_secret ? 'yes' : 'no'}</Table.Td>
                <Table.Td>{formatTime(s.created_at)}</Table.Td>
                <Table.Td><Button size="xs" variant="subtle" color="red" onClick={() => { if (confirm(`Delete alert sink ${s.name}?`)) remove.mutate(s.id); }}>Delete</Button></Table.Td></Table.Tr>
            ))}</Table.Tbody></Table>
        )}
      </QueryState>
      <form onSubmit={submit}>
        <Group align="flex-end">
          <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextInput label="Webhook URL" type="url" required placeholder="https://…" value={url} onChange={(e) => setUrl(e.currentTarget.value)} w={320} />
          <PasswordInput label="HMAC secret (optional, 16+ characters)" value={secret} onChange={(e) => setSecret(e.currentTarget.value)} w={260} />
          <Button type="submit" loading={create.isPending}>Add alert sink</Button>
        </Group>
      </form>
      {(create.isError || remove.isError) && <ErrorState error={create.error ?? remove.error} what="Alert sink" />}
    </Stack>
  );
}

function EnrolmentTokens() {
  const [ttlHours, setTtlHours] = useState<number | string>(24);
  const [maxUses, setMaxUses] = useState<number | string>(1);
  const create = useApiAction(() => ({ path: '/enrollment-tokens', body: { ttl_seconds: Number(ttlHours) * 3600, max_uses: Number(maxUses) } }), []);
  const t = create.data as { id: string; token: string; expires_at: string; max_uses: number } | undefined;
  return (
    <Stack>
      <Group align="flex-end">
        <NumberInput label="Valid for (hours)" min={1} max={720} value={ttlHours} onChange={setTtlHours} w={160} />
        <NumberInput label="Uses" min={1} max={10000} value={maxUses} onChange={setMaxUses} w={120} />
        <Button loading={create.isPending} onClick={() => create.mutate(undefined)}>Create enrolment token</Button>
      </Group>
      {t && (
        <Alert color="green" title={`Token for ${t.max_uses} agent(s), valid until ${formatTime(t.expires_at)}`} data-testid="enrolment-token">
          <Stack gap="xs">
            <Code>{t.token}</Code>
            Install an agent with it (the gRPC address is the server's <Code>--grpc</Code> address):
            <Code block>{`npx vigil agent --server <server-host>:<grpc-port> --enroll-token ${t.token}`}</Code>
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
          <Tabs.Tab value="sinks">Alert sinks</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="tokens"><EnrolmentTokens /></Tabs.Panel>
        <Tabs.Panel value="users"><Users /></Tabs.Panel>
        <Tabs.Panel value="keys"><ApiKeys /></Tabs.Panel>
        <Tabs.Panel value="sinks"><AlertSinks /></Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
