import type { ChannelDefinitions } from '@herald/protocol';
import { ConfigAuthenticator } from './auth/config-authenticator.ts';
import { MemoryBroker } from './brokers/memory-broker.ts';
import { type HeraldConfig, parseConfig } from './config.ts';
import type { Authenticator } from './core/auth.ts';
import type { Broker } from './core/broker.ts';
import { HubCore } from './core/hub.ts';
import type { Logger } from './core/logger.ts';
import { JsonSchemas } from './schemas/json-schemas.ts';
import { HttpTransports } from './transports/http/transports.ts';
import { PusherAuthenticator } from './transports/pusher/authenticator.ts';
import { PusherTransport } from './transports/pusher/pusher.ts';

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
  private readonly jsonSchemas: JsonSchemas;

  constructor(options: HubOptions = {}) {
    const config = options.config ?? parseConfig({});
    const authenticator = options.authenticator ?? new ConfigAuthenticator(config);
    super({
      config,
      broker: options.broker ?? new MemoryBroker(),
      authenticator: config.pusher ? new PusherAuthenticator(authenticator) : authenticator,
      logger: options.logger,
    });
    this.jsonSchemas = new JsonSchemas(config);
    this.useChannels(options.channels);
    this.http = new HttpTransports(this);
    this.pusher = config.pusher ? new PusherTransport(this, config.pusher) : undefined;
  }

  override async close(code?: number, reason?: string): Promise<void> {
    this.pusher?.stop();
    await super.close(code, reason);
  }

  /**
   * Checks publications against `channels` from now on (after the config's JSON Schemas), in place of
   * any given before; undefined checks only those. An embedding app's dev-mode reload brings new ones.
   */
  useChannels(channels: ChannelDefinitions | undefined): void {
    this.schemas = [...(this.jsonSchemas.empty ? [] : [this.jsonSchemas]), ...(channels ? [channels] : [])];
  }
}
