import type { WebhookMember } from '@herald/protocol';

/** A client a lost node held, as reported by the node that reaps it. */
export interface LostClient {
  client: string;
  user: string | null;
  /** Ms since the epoch. */
  connectedAt: number;
}

/**
 * The events a ledger decides this node is the one to send (each to exactly one node of the cluster). `at`
 * (ms since the epoch): when the ledger decided it, on the clock that orders them (Redis's, for nodes
 * sharing one), so timestamps order a channel's events across nodes.
 */
export interface LedgerEvents {
  occupied(channel: string, at: number): void;
  vacated(channel: string, at: number): void;
  joined(channel: string, member: WebhookMember, at: number): void;
  left(channel: string, member: WebhookMember, at: number): void;
  /** A client of a node that died (`client.disconnected` with reason `node_lost`). */
  lost(client: LostClient): void;
}

/** The channel events of `LedgerEvents`, for another webhook format riding on the ledger (Pusher's). */
export type ChannelEvents = Pick<LedgerEvents, 'occupied' | 'vacated' | 'joined' | 'left'>;

/**
 * Who is where, for the webhooks: which nodes hold each channel, its members, the leaves and vacancies
 * waiting out `presence.grace`, and each node's clients. It decides which node sends each cluster-wide
 * event, so every one is sent once however many nodes see it happen: `MemoryLedger` for one node,
 * `RedisLedger` for nodes sharing a Redis broker.
 *
 * Calls are made in the order things happen on this node and take effect in that order; they never throw
 * (a failure is logged: the events it would have decided are lost).
 */
export interface LifecycleLedger {
  start(events: LedgerEvents): Promise<void>;
  /** A client let in on this node (remembered so that survivors can report it if the node dies). */
  connected(client: LostClient): void;
  disconnected(client: string): void;
  /** This node's first subscriber of `channel`: may make it occupied cluster-wide. */
  occupy(channel: string): void;
  /** This node's last subscriber of `channel` is gone: may make it vacant, after the grace. */
  release(channel: string): void;
  /** A presence member of this node: joined, or the return within the grace of a user who left. */
  join(channel: string, member: WebhookMember): void;
  /**
   * A member of this node left: its leave waits out the grace (a member with a user) unless it comes back.
   * `lease`: a long-poll client's lease ran out here; it stays if another node renewed it since.
   */
  leave(channel: string, client: string, lease?: boolean): void;
  /** Settles what is due, then stops; a node that drains leaves nothing for others to reap. */
  close(): Promise<void>;
}

/** How a ledger keeps the grace: milliseconds, and how often it looks for what is due. */
export function settleInterval(graceMs: number): number {
  return Math.max(50, Math.min(500, graceMs / 4));
}
