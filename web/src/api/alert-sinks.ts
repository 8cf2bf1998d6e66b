// Alert sinks and deliveries as the API answers them (src/api/routes/alert-sinks.ts): the sinks with their health,
// a sink's deliveries, and the deliveries of one alert.

import { useQuery } from '@tanstack/react-query';
import { api } from './client.ts';

export const SINK_TYPES = ['webhook', 'syslog', 'email', 'slack', 'teams', 'pagerduty', 'stdout'] as const;
export type SinkType = (typeof SINK_TYPES)[number];
export type SinkFormat = 'vigil' | 'ecs' | 'ocsf' | 'cef' | 'text';

/** The formats each type takes, its default first (the server checks the same). */
export const FORMATS: Record<SinkType, SinkFormat[]> = {
  stdout: ['vigil', 'ecs', 'ocsf', 'cef', 'text'], syslog: ['cef', 'vigil', 'ecs', 'ocsf', 'text'], webhook: ['vigil', 'ecs', 'ocsf'],
  email: ['text'], slack: ['text'], teams: ['text'], pagerduty: ['text'],
};

export interface SinkFilters { min_severity?: string; rule_tags?: string[]; mitre_tactics?: string[]; rule_ids?: string[] }
export interface SinkOptions { from?: string; to?: string[]; username?: string; starttls?: boolean; ca_pem?: string; rate_per_minute?: number; repeat_window_s?: number }
export interface SinkHealth {
  last_success_at: string | null; last_error_at: string | null; last_error: string | null;
  breaker: 'closed' | 'open' | 'half_open'; breaker_until: string | null; failures: number; queued: number; dead: number;
}
export interface AlertSink {
  id: string; name: string; type: SinkType; url: string; format: SinkFormat; filters: SinkFilters; template: string | null; options: SinkOptions;
  has_secret: boolean; enabled: boolean; created_by: string; created_at: string; updated_at: string; health: SinkHealth;
}
export interface Delivery {
  id: string; sink_id: string; sink_name?: string; sink_type?: string; alert_id: string; alert_title?: string; host_name?: string; state: 'pending' | 'delivered' | 'dead' | 'suppressed';
  attempts: number; next_attempt_at: string | null; created_at: string; delivered_at: string | null; last_error: string | null;
}

/** The sinks, refreshed every 5 s (their health moves with deliveries). */
export const useSinks = () => useQuery({ queryKey: ['alert-sinks'], queryFn: () => api<{ alert_sinks: AlertSink[] }>('/alert-sinks'), refetchInterval: 5000 });

export const useSinkDeliveries = (sinkId: string | null) => useQuery({
  queryKey: ['alert-sinks', sinkId, 'deliveries'], enabled: sinkId !== null,
  queryFn: () => api<{ deliveries: Delivery[] }>(`/alert-sinks/${encodeURIComponent(sinkId!)}/deliveries?limit=50`),
});

export const useAlertDeliveries = (alertId: string) => useQuery({
  queryKey: ['alert-deliveries', alertId], refetchInterval: 5000,
  queryFn: () => api<{ deliveries: Delivery[] }>(`/alerts/${encodeURIComponent(alertId)}/deliveries`),
});
