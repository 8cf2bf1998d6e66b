// Policy distribution: sends the latest version of each of the tenant's policies down an agent's stream when it
// opens, sends a new version to the tenant's connected agents when it is stored, and records the versions the
// agents acknowledge applying (an acknowledgement with an error, or of a version that does not exist, is counted
// and not recorded). A policy naming DLP data sets goes with their references and the tenant's key, and an agent
// pulls a set's fingerprints by version down its stream (dlp-delivery.ts).

import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { AgentIdentity } from '../pki/pki.ts';
import type { DatasetRequest, PolicyAck, ServerMessage } from '../schema/wire.ts';
import type { MetadataStore, PolicyRecord } from '../stores/metadata/types.ts';
import type { DatasetDelivery } from './dlp-delivery.ts';
import type { AgentChannel } from './ingest.ts';
import { registry } from './metrics.ts';

const policiesSent = new Counter({ name: 'vigil_policies_sent_total', help: 'Policy versions sent to agents', registers: [registry] });
const policyAcks = new Counter({
  name: 'vigil_policy_acks_total', help: 'Policy acknowledgements from agents, by outcome (recorded, agent_error, unknown_version)',
  labelNames: ['outcome'], registers: [registry],
});

export interface PolicyPushOptions {
  metadata: MetadataStore;
  /** The open agent streams (ingest's channels). */
  channels: Pick<ReadonlyMap<string, AgentChannel>, 'get' | 'values'>;
  log: Logger;
  now?: () => number;
  /** DLP data sets named by policies (absent: policies go without them). */
  datasets?: DatasetDelivery;
}

/** What a policy version's push needs of it. */
export type PushedPolicy = Pick<PolicyRecord, 'tenantId' | 'name' | 'version' | 'document'>;

const datasetChunksSent = new Counter({ name: 'vigil_dlp_dataset_chunks_sent_total', help: 'Pieces of DLP fingerprint sets sent to agents', registers: [registry] });

export class PolicyPush {
  private readonly o: PolicyPushOptions;

  constructor(o: PolicyPushOptions) {
    this.o = o;
  }

  /** Sends the latest version of every policy of the agent's tenant down its (new) stream. */
  async onAgentConnected(agent: AgentIdentity): Promise<void> {
    const policies = await this.o.metadata.listPolicies(agent.tenantId);
    for (const p of policies) {
      const msg = await this.message(p);
      this.o.channels.get(agent.agentId)?.send(msg);
      policiesSent.inc();
    }
  }

  /** A new version was stored (or a data set it names changed): send it to every connected agent of its tenant. */
  published(p: PushedPolicy): void {
    this.message(p).then((msg) => {
      for (const c of this.o.channels.values()) {
        if (c.identity.tenantId !== p.tenantId) continue;
        c.send(msg);
        policiesSent.inc();
      }
    }, (err: unknown) => this.o.log.error({ err, policy: p.name, version: p.version }, 'policy not pushed: its data sets were not resolved'));
  }

  /** An agent asks for a data set's fingerprint set by version: the pieces go down its stream (its tenant's only). */
  async onDatasetRequest(agent: AgentIdentity, req: DatasetRequest): Promise<void> {
    if (!this.o.datasets) return;
    await this.o.datasets.chunks(agent.tenantId, req, (c) => {
      this.o.channels.get(agent.agentId)?.send({ body: 'dataset_chunk', dataset_chunk: c });
      datasetChunksSent.inc();
    });
  }

  private async message(p: PushedPolicy): Promise<ServerMessage> {
    const refs = this.o.datasets ? await this.o.datasets.resolve(p.tenantId, p.document) : { datasets: [] };
    return { body: 'policy', policy: { name: p.name, version: p.version, document_json: p.document, ...refs } };
  }

  async onAck(agent: AgentIdentity, ack: PolicyAck): Promise<void> {
    if (ack.error) {
      policyAcks.inc({ outcome: 'agent_error' });
      this.o.log.warn({ agentId: agent.agentId, policy: ack.name, version: ack.version, error: ack.error }, 'agent could not apply a policy');
      return;
    }
    if (!ack.name || !ack.version || !(await this.o.metadata.getPolicy(agent.tenantId, ack.name, ack.version))) {
      policyAcks.inc({ outcome: 'unknown_version' });
      return;
    }
    await this.o.metadata.ackPolicy(agent.tenantId, agent.agentId, ack.name, ack.version, (this.o.now ?? Date.now)());
    policyAcks.inc({ outcome: 'recorded' });
    if (ack.datasets?.length) this.o.log.info({ agentId: agent.agentId, policy: ack.name, version: ack.version, datasets: ack.datasets }, 'agent loaded DLP data sets');
  }
}
