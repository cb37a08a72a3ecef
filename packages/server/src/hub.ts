import type { ChannelDefinitions, PublishResult } from '@herald/protocol';
import { ConfigAuthenticator } from './auth/config-authenticator.ts';
import { MemoryBroker } from './brokers/memory-broker.ts';
import { RedisBroker } from './brokers/redis-broker.ts';
import { type HeraldConfig, parseConfig } from './config.ts';
import type { Authenticator } from './core/auth.ts';
import type { Broker } from './core/broker.ts';
import { HubCore, type PublishInput } from './core/hub.ts';
import type { Logger } from './core/logger.ts';
import type { Session } from './core/session.ts';
import { JsonSchemas } from './schemas/json-schemas.ts';
import { HttpTransports } from './transports/http/transports.ts';
import { PusherAuthenticator } from './transports/pusher/authenticator.ts';
import { PusherTransport } from './transports/pusher/pusher.ts';
import { PusherWebhooks } from './transports/pusher/webhooks.ts';
import { LifecycleWebhooks } from './webhooks/lifecycle.ts';

/** How long closing the hub waits for its webhook deliveries (within `herald serve`'s drain timeout). */
export const WEBHOOK_DRAIN_MS = 5_000;

export interface HubOptions {
  /** Default: every option at its default. */
  config?: HeraldConfig;
  /** Default: a memory broker (one node). */
  broker?: Broker;
  /** Default: the config's tokens and auth proxy (`ConfigAuthenticator`). */
  authenticator?: Authenticator;
  logger?: Logger;
  /** `defineChannels(…)`: client publications (and the server's, unless it opts out) are checked against it. */
  channels?: ChannelDefinitions;
}

/**
 * A hub as apps and the server use it: the core wired with its defaults, and its HTTP transports made
 * once beside it. WebSocket needs a Node server and is attached by `HeraldServer`.
 */
export class Hub extends HubCore {
  readonly http: HttpTransports;
  /** The Pusher protocol's connections and HTTP API, when the config lists Pusher apps. */
  readonly pusher: PusherTransport | undefined;
  /** The lifecycle webhooks, when the config lists endpoints. */
  readonly webhooks: LifecycleWebhooks | undefined;
  private readonly jsonSchemas: JsonSchemas;

  constructor(options: HubOptions = {}) {
    const config = options.config ?? parseConfig({});
    const broker = options.broker ?? new MemoryBroker();
    const authenticator = options.authenticator ?? new ConfigAuthenticator(config);
    super({
      config,
      broker,
      authenticator: config.pusher ? new PusherAuthenticator(authenticator) : authenticator,
      logger: options.logger,
    });
    this.jsonSchemas = new JsonSchemas(config);
    this.useChannels(options.channels);
    this.http = new HttpTransports(this);
    const pusherWebhooks = config.pusher?.apps.some((app) => app.webhooks.length > 0)
      ? new PusherWebhooks(config.pusher.apps, this.log)
      : undefined;
    this.pusher = config.pusher ? new PusherTransport(this, config.pusher, pusherWebhooks) : undefined;
    if (config.webhooks.length > 0 || pusherWebhooks) {
      // Nodes sharing a Redis broker share the webhook ledger beside it; any other broker is one node.
      const shared = broker instanceof RedisBroker ? broker.options : undefined;
      this.webhooks = new LifecycleWebhooks(config, this.log, shared);
      if (pusherWebhooks) this.webhooks.alsoTell(pusherWebhooks, pusherWebhooks.queues);
      this.observe(this.webhooks.observe);
    }
  }

  override async start(): Promise<void> {
    await super.start();
    await this.webhooks?.start();
  }

  /** A client's publish; endpoints that list `publication` are told of it. */
  override async publishAs(session: Session, channel: string, input: PublishInput): Promise<PublishResult> {
    const result = await super.publishAs(session, channel, input);
    if (!result.duplicate) this.webhooks?.published(session, channel, input, result);
    return result;
  }

  /** Closes the core, then sends the webhooks its last clients made, for at most `WEBHOOK_DRAIN_MS`. */
  override async close(code?: number, reason?: string): Promise<void> {
    this.pusher?.stop();
    await super.close(code, reason);
    await this.webhooks?.close(WEBHOOK_DRAIN_MS);
  }

  /**
   * Checks publications against `channels` from now on (after the config's JSON Schemas), in place of
   * any given before; undefined checks only those. An embedding app's dev-mode reload brings new ones.
   */
  useChannels(channels: ChannelDefinitions | undefined): void {
    this.schemas = [...(this.jsonSchemas.empty ? [] : [this.jsonSchemas]), ...(channels ? [channels] : [])];
  }
}
