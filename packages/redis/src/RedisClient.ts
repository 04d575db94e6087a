/**
 * The connection every Redis-backed store shares: one client, a key prefix,
 * and one rule for failure. A command that does not answer within
 * `commandTimeout` (or finds the connection down) fails with
 * `RedisUnavailable` at once: commands are never queued while Redis is away,
 * and each store turns the failure into its own typed error, so a request
 * is refused (`unavailable`), never allowed and never left hanging. The
 * client reconnects by itself; service resumes when Redis returns.
 *
 * @example
 * ```ts
 * const Shared = Layer.mergeAll(RevocationStore.layer, ApiKeyStore.layer).pipe(
 *   Layer.provide(RedisClient.layer({ url: "redis://127.0.0.1:6379", keyPrefix: "shop:" }))
 * )
 * ```
 *
 * @since 0.3.0
 */
import * as Metrics from "@warden/core/Metrics"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"

/**
 * Redis did not answer in time, or the connection is down.
 *
 * @since 0.3.0
 * @category errors
 */
export class RedisUnavailable extends Data.TaggedError("@warden/RedisUnavailable")<{
  /** Which store asked. */
  readonly store: string
  readonly message: string
}> {}

/**
 * Where Redis is and how long a command may take.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** `redis://[:password@]host:port[/db]` (or `rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  readonly url?: string
  /** Put before every key, so applications can share one Redis. Default `warden:`. */
  readonly keyPrefix?: string
  /** The longest a command may take before the store answers `unavailable`. Default 500 ms. */
  readonly commandTimeout?: Duration.DurationInput
  /** The longest a connection attempt may take. Default 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput
}

/**
 * The shared client: `run` sends commands under the timeout and counts what fails.
 *
 * @since 0.3.0
 * @category models
 */
export class RedisClient extends Context.Tag("@warden/redis/RedisClient")<RedisClient, {
  readonly keyPrefix: string
  /** Runs commands on the client; any failure or timeout is `RedisUnavailable`, counted for `store`. */
  readonly run: <A>(store: string, command: (redis: Redis) => Promise<A>) => Effect.Effect<A, RedisUnavailable>
  /**
   * Subscribes to `channel` on a connection of its own for the scope's life. `ready()` says whether the
   * subscription is live now; `onReset` runs whenever it was not, and messages may have been missed.
   */
  readonly subscribe: (
    channel: string,
    handlers: { readonly onMessage: (message: string) => void; readonly onReset: () => void }
  ) => Effect.Effect<{ readonly ready: () => boolean }, never, Scope.Scope>
}>() {}

const unavailableTotal = Metric.counter("warden_store_unavailable_total", {
  description: "Store operations that failed or timed out, by store: each one refused its request"
})

/**
 * Failed store operations (tagged `store`), to read or to export.
 *
 * @since 0.3.0
 * @category metrics
 */
export const metrics = { unavailable: unavailableTotal } as const

const unavailableBy = Metrics.taggedBy(unavailableTotal, "store")

const connectionOptions = (options: Options) => ({
  commandTimeout: Duration.toMillis(options.commandTimeout ?? "500 millis"),
  connectTimeout: Duration.toMillis(options.connectTimeout ?? "2 seconds"),
  // Never queue a command while disconnected, and never resend one: the caller answers `unavailable` now.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // Reconnect for ever, at most every half second: service resumes by itself.
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
  lazyConnect: true
})

/** Words of an error that can be shown: never the URL, which may hold a password. */
const describe = (error: unknown): string =>
  error instanceof Error ? error.message.replace(/redis(s)?:\/\/\S*/g, "redis://…") : "unknown error"

/** Waits for a connection to be ready, at most `millis`. */
const untilReady = (redis: Redis, millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (redis.status === "ready") return resume(Effect.void)
    const done = () => {
      clearTimeout(timer)
      redis.off("ready", done)
      resume(Effect.void)
    }
    const timer = setTimeout(done, millis)
    redis.once("ready", done)
    return Effect.sync(() => {
      clearTimeout(timer)
      redis.off("ready", done)
    })
  })

/**
 * Builds the client for the scope's life. It waits up to `connectTimeout`
 * for the first connection, then starts whatever happened: a service starts
 * while Redis is down, and refuses until it is up.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RedisClient["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const url = options.url ?? "redis://127.0.0.1:6379"
    const settings = connectionOptions(options)
    const backstopMillis = settings.commandTimeout + 250
    const connect = () => {
      const redis = new Redis(url, settings)
      // Errors surface on commands; an unheard "error" event would crash the process.
      redis.on("error", () => undefined)
      redis.connect().catch(() => undefined)
      return redis
    }
    const redis = yield* Effect.acquireRelease(Effect.sync(connect), (r) => Effect.sync(() => r.disconnect()))
    // Give the first connection its chance before the first request; if Redis is down, start anyway and refuse.
    yield* untilReady(redis, settings.connectTimeout)
    const failed = (store: string, message: string): Effect.Effect<never, RedisUnavailable> =>
      Effect.zipRight(Metric.increment(unavailableBy(store)), Effect.fail(new RedisUnavailable({ store, message })))
    // One callback and one timer per command, no extra fiber: the client's own timeout answers first; the timer is
    // the backstop should it ever not.
    const run = <A>(store: string, command: (redis: Redis) => Promise<A>): Effect.Effect<A, RedisUnavailable> =>
      Effect.async<A, RedisUnavailable>((resume) => {
        let settled = false
        const timer = setTimeout(() => {
          if (settled) return
          settled = true
          resume(failed(store, "Redis did not answer in time"))
        }, backstopMillis)
        const settle = (effect: () => Effect.Effect<A, RedisUnavailable>) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resume(effect())
        }
        let pending: Promise<A>
        try {
          pending = command(redis)
        } catch (error) {
          settle(() => failed(store, `Redis did not answer: ${describe(error)}`))
          return
        }
        pending.then(
          (value) => settle(() => Effect.succeed(value)),
          (error) => settle(() => failed(store, `Redis did not answer: ${describe(error)}`))
        )
      })
    const subscribe = (
      channel: string,
      handlers: { readonly onMessage: (message: string) => void; readonly onReset: () => void }
    ) =>
      Effect.gen(function*() {
        let live = false
        const subscriber = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const s = new Redis(url, { ...settings, autoResubscribe: false })
            s.on("error", () => undefined)
            const join = () => {
              s.subscribe(channel).then(
                () => {
                  // Whatever was published while not subscribed is lost: drop what it could have invalidated.
                  handlers.onReset()
                  live = true
                },
                () => undefined
              )
            }
            s.on("ready", join)
            s.on("close", () => {
              live = false
              handlers.onReset()
            })
            s.on("message", (from: string, message: string) => {
              if (from === channel) handlers.onMessage(message)
            })
            s.connect().catch(() => undefined)
            return s
          }),
          (s) => Effect.sync(() => s.disconnect())
        )
        yield* untilReady(subscriber, settings.connectTimeout)
        return { ready: () => live && subscriber.status === "ready" }
      })
    return { keyPrefix: options.keyPrefix ?? "warden:", run, subscribe }
  })

/**
 * The client as a layer.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisClient> => Layer.scoped(RedisClient, make(options))

/**
 * The client from configuration, e.g. `RedisClient.layerConfig({ url: Config.string("REDIS_URL") })`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<RedisClient, ConfigError.ConfigError> =>
  Layer.scoped(RedisClient, Effect.flatMap(Config.unwrap(options), make))
