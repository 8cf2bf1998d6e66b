// The console's frame: sign-in gate, navigation, theme switch, live-stream indicator and the page routes.

import { lazy, Suspense, type ComponentType } from 'react';
import { AppShell, Badge, Button, Center, Group, Loader, NavLink, SegmentedControl, Text, Title, useMantineColorScheme } from '@mantine/core';
import { NavLink as RouterLink, Navigate, Route, Routes, useLocation } from 'react-router';
import { logout } from './api/client.ts';
import { useLiveStream } from './api/live.ts';
import { useCredential, type Credential } from './auth/credential.ts';
import { useSessionRefresh } from './auth/session-keeper.ts';
import { PageErrorBoundary } from './components/page-error-boundary.tsx';
import { DashboardPage } from './pages/dashboard.tsx';
import { LoginPage } from './pages/login.tsx';

/** Pages other than the dashboard load on first visit, so the first load fetches less. */
function lazyPage<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(() => load().then((m) => ({ default: m[name] })));
}
const AlertDetailPage = lazyPage(() => import('./pages/alert-detail.tsx'), 'AlertDetailPage');
const AlertsPage = lazyPage(() => import('./pages/alerts.tsx'), 'AlertsPage');
const AlertSinksPage = lazyPage(() => import('./pages/alert-sinks.tsx'), 'AlertSinksPage');
const AuditPage = lazyPage(() => import('./pages/audit.tsx'), 'AuditPage');
const AiUsagePage = lazyPage(() => import('./pages/ai-usage.tsx'), 'AiUsagePage');
const IntelPage = lazyPage(() => import('./pages/intel.tsx'), 'IntelPage');
const ExceptionsPage = lazyPage(() => import('./pages/exceptions.tsx'), 'ExceptionsPage');
const IncidentsPage = lazyPage(() => import('./pages/incidents.tsx'), 'IncidentsPage');
const IncidentDetailPage = lazyPage(() => import('./pages/incident-detail.tsx'), 'IncidentDetailPage');
const HostDetailPage = lazyPage(() => import('./pages/host-detail.tsx'), 'HostDetailPage');
const HostsPage = lazyPage(() => import('./pages/hosts.tsx'), 'HostsPage');
const HuntPage = lazyPage(() => import('./pages/hunt.tsx'), 'HuntPage');
const MitrePage = lazyPage(() => import('./pages/mitre.tsx'), 'MitrePage');
const ProcessPage = lazyPage(() => import('./pages/process.tsx'), 'ProcessPage');
const ResponsePage = lazyPage(() => import('./pages/response.tsx'), 'ResponsePage');
const RulesPage = lazyPage(() => import('./pages/rules.tsx'), 'RulesPage');
const SettingsPage = lazyPage(() => import('./pages/settings.tsx'), 'SettingsPage');
const DlpPage = lazyPage(() => import('./pages/dlp.tsx'), 'DlpPage');

const NAV = [
  ['/', 'Dashboard'], ['/hosts', 'Hosts'], ['/incidents', 'Incidents'], ['/alerts', 'Alerts'], ['/exceptions', 'Exceptions'], ['/mitre', 'MITRE tactics'], ['/rules', 'Rules'], ['/intel', 'Threat intel'], ['/ai-usage', 'AI usage'],
  ['/dlp', 'Data protection'], ['/hunt', 'Hunt'], ['/response', 'Response'], ['/alert-sinks', 'Alert sinks'], ['/audit', 'Audit'], ['/settings', 'Settings'],
] as const;

export function App() {
  const cred = useCredential();
  useSessionRefresh(cred);
  if (!cred) return <LoginPage />;
  return <Shell cred={cred} />;
}

function whoIs(cred: Credential): string { return cred.kind === 'api-key' ? 'API key' : `${cred.user.email} (${cred.user.role})`; }

function ThemeSwitch() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  return (
    <SegmentedControl size="xs" aria-label="Theme" value={colorScheme} onChange={(v) => setColorScheme(v as 'light' | 'dark' | 'auto')}
      data={[{ value: 'light', label: 'Light' }, { value: 'dark', label: 'Dark' }, { value: 'auto', label: 'Auto' }]} />
  );
}

function Shell({ cred }: { cred: Credential }) {
  const live = useLiveStream(cred);
  const { pathname } = useLocation();
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 190, breakpoint: 'xs' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs"><Title order={4}>Vigil</Title><Text c="dimmed" size="sm">console</Text></Group>
          <Group gap="sm">
            <Badge variant="dot" color={live === 'live' ? 'green' : 'gray'} title="Live updates">{live === 'live' ? 'live' : 'polling'}</Badge>
            <ThemeSwitch />
            <Text size="sm" c="dimmed">{whoIs(cred)}</Text>
            <Button size="xs" variant="default" onClick={() => void logout()}>Sign out</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Pages">
        {NAV.map(([to, label]) => (
          <NavLink key={to} component={RouterLink} to={to} label={label}
            active={to === '/' ? pathname === '/' : pathname.startsWith(to)} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <PageErrorBoundary resetKey={pathname}>
        <Suspense fallback={<Center py="xl" data-state="loading"><Loader size="sm" /></Center>}>
        <Routes>
          <Route path="/" element={<DashboardPage />} />
          <Route path="/hosts" element={<HostsPage />} />
          <Route path="/hosts/:id" element={<HostDetailPage />} />
          <Route path="/hosts/:hostId/processes/:entityId" element={<ProcessPage />} />
          <Route path="/alerts" element={<AlertsPage />} />
          <Route path="/alerts/:id" element={<AlertDetailPage />} />
          <Route path="/exceptions" element={<ExceptionsPage />} />
          <Route path="/incidents" element={<IncidentsPage />} />
          <Route path="/incidents/:id" element={<IncidentDetailPage />} />
          <Route path="/mitre" element={<MitrePage />} />
          <Route path="/rules" element={<RulesPage />} />
          <Route path="/intel" element={<IntelPage />} />
          <Route path="/ai-usage" element={<AiUsagePage />} />
          <Route path="/hunt" element={<HuntPage />} />
          <Route path="/response" element={<ResponsePage />} />
          <Route path="/alert-sinks" element={<AlertSinksPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="/dlp" element={<DlpPage />} />
          <Route path="/settings" element={<SettingsPage />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
        </Suspense>
        </PageErrorBoundary>
      </AppShell.Main>
    </AppShell>
  );
}
