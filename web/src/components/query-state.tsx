// One way for every page to show a query's loading, error (endpoint not on this server yet, permission
// denied, other failures with a retry) and empty states before its content.

import type { ReactNode } from 'react';
import { Alert, Button, Center, Group, Loader, Text } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import { ApiError } from '../api/client.ts';

export function ErrorState({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  if (error instanceof ApiError && error.endpointMissing) {
    return (
      <Alert color="gray" title={`${what}: not available on this server yet`} data-state="unavailable">
        This server does not offer {error.problem.detail?.replace(/^no route /, '') ?? 'this endpoint'} yet. The page works once the server is upgraded.
      </Alert>
    );
  }
  if (error instanceof ApiError && error.status === 403) {
    return <Alert color="orange" title="Permission denied" data-state="forbidden">Your role may not see {what.toLowerCase()}. Ask an administrator for access.</Alert>;
  }
  return (
    <Alert color="red" title={`${what} could not be loaded`} data-state="error">
      <Group justify="space-between">
        <Text size="sm">{error instanceof Error ? error.message : String(error)}</Text>
        {onRetry && <Button size="xs" variant="light" color="red" onClick={onRetry}>Retry</Button>}
      </Group>
    </Alert>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <Text c="dimmed" ta="center" py="lg" data-state="empty">{children}</Text>;
}

interface QueryStateProps<T> {
  query: UseQueryResult<T>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}

export function QueryState<T>({ query, what, isEmpty, empty, children }: QueryStateProps<T>) {
  if (query.isPending) return <Center py="xl" data-state="loading"><Loader size="sm" aria-label={`loading ${what}`} /></Center>;
  if (query.isError) return <ErrorState error={query.error} what={what} onRetry={() => void query.refetch()} />;
  if (isEmpty?.(query.data)) return <EmptyState>{empty ?? `No ${what.toLowerCase()} yet.`}</EmptyState>;
  return <>{children(query.data)}</>;
}
