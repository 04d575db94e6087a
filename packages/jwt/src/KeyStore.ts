/**
 * The verification keys of an issuer, fetched from its JWKS and kept fresh by
 * a fiber forked into the layer's scope: closing the layer stops it.
 *
 * - Refreshes on an interval with jitter, following `Cache-Control: max-age`
 *   within bounds; each scheduled refresh is a fetch that begins on time.
 * - A token with an unknown `kid` triggers a refetch: single-flight (any
 *   number of concurrent callers share one request) and at most one per
 *   cooldown, failed fetches included, so a flood of random kids cannot
 *   hammer the endpoint; known keys keep verifying meanwhile. Only these
 *   on-demand fetches (and the first one, at start-up) start the cooldown:
 *   scheduled refreshes and `refresh` do not use up the budget.
 * - So an issuer should publish a key before signing with it, by at least
 *   the verifiers' refresh interval (the JWKS `max-age` within
 *   `minRefreshInterval`..`maxRefreshInterval`; 5 minutes without one) plus
 *   the fetch `timeout`: then the scheduled refresh has the key before the
 *   first token of it, whatever a flood of random kids does to the budget.
 *   A key retired from the set stops verifying at once, so it should stay
 *   published until the last token it signed is past `exp` plus the skew.
 * - While the endpoint fails, the last good keys serve for `maxStale`; after
 *   that verification fails closed with `keys_unavailable`.
 * - Keys that leave the set stop verifying at once; listeners (the
 *   verified-token cache) hear which.
 * - Keys that cannot be used are dropped and counted (`metrics.keysDropped`);
 *   no failure of a fetch, defects included, ends the refresh fiber or reaches
 *   a token as anything but a typed refusal.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Metrics from "@warden/core/Metrics"
import * as Settings from "@warden/core/Settings"
import * as SingleFlight from "@warden/core/SingleFlight"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as jose from "jose"
import * as crypto from "node:crypto"
import * as Native from "./internal/native.js"
import * as JwksSource from "./JwksSource.js"

/** How the key store fetches and refreshes. */
export interface Options extends JwksSource.FetchOptions {
  readonly jwksUrl: string
  /** Refresh interval when the response carries no usable max-age. Default 5 minutes. */
  readonly refreshInterval?: Duration.DurationInput
  /** Bounds applied to `Cache-Control: max-age`. Default 1 minute to 1 hour. */
  readonly minRefreshInterval?: Duration.DurationInput
  readonly maxRefreshInterval?: Duration.DurationInput
  /** Fraction of the interval taken off at random, so fleets do not refresh in step. Default 0.1. */
  readonly jitter?: number
  /**
   * The least time between two on-demand fetches (for unknown kids or a stale set), failed ones included; also the
   * retry delay after a failed refresh. Scheduled refreshes do not count. Default 30 seconds.
   */
  readonly cooldown?: Duration.DurationInput
  /** How long the last good keys serve after the last successful fetch. Default 1 hour. */
  readonly maxStale?: Duration.DurationInput
}

/**
 * A key found for a token. `id` names the JWK (its kid, or its thumbprint when
 * it has none). The object itself stands for that exact key: `isCurrent` says
 * whether it is still in the set, whatever else now stands under its id.
 */
export interface FoundKey {
  readonly id: string
  readonly key: jose.CryptoKey | Uint8Array
  /**
   * The same key as node:crypto holds it, checked for the algorithm it was found for: what the signature is
   * verified with.
   *
   * @since 0.2.0
   */
  readonly keyObject: crypto.KeyObject
}

/** What the store holds, for health checks and tests. */
export interface Status {
  /** The ids under which a token can find a key: an id whose keys all fit the same algorithms is left out. */
  readonly ids: ReadonlyArray<string>
  /** Epoch ms of the last successful fetch, if any. */
  readonly fetchedAt: number | undefined
  readonly lastFailure: JwksSource.JwksFetchError | undefined
  readonly fetches: number
}

/** The keys of one issuer. */
export class KeyStore extends Context.Tag("@warden/jwt/KeyStore")<KeyStore, {
  /**
   * The key for a token header: the only key under its `kid` (or, without a kid, in the whole set) that fits its
   * `alg`. Keys of other types may share the kid (RFC 7517 §4.5); two that fit the same `alg` are refused.
   */
  readonly find: (header: { readonly kid?: string | undefined; readonly alg: string }) => Effect.Effect<
    FoundKey,
    Unauthenticated
  >
  /**
   * `find` without running an Effect, for a key already imported: the key, or the refusal `find` would give;
   * `undefined` when answering needs a fetch or an import (an unknown kid, a stale set, a key not used yet), and
   * `find` must run.
   *
   * @since 0.2.0
   */
  readonly findKnown: (header: { readonly kid?: string | undefined; readonly alg: string }) =>
    | FoundKey
    | Unauthenticated
    | undefined
  /**
   * Whether this very key, as `find` handed it out, is still in the set, and the set no older than `maxStale`:
   * what a cache of verified tokens checks, since another key may have taken its id.
   *
   * @since 0.2.0
   */
  readonly isCurrent: (found: FoundKey) => boolean
  /** Whether a token can find a key under this id (one of `Status.ids`), and the set is no older than `maxStale`. */
  readonly has: (id: string) => boolean
  /** Calls `listener` with the ids of keys that left the set, after each fetch that removed some. */
  readonly onRemoved: (listener: (ids: ReadonlyArray<string>) => void) => void
  /** Fetches now (sharing a fetch already under way). */
  readonly refresh: Effect.Effect<void, JwksSource.JwksFetchError>
  readonly status: Effect.Effect<Status>
}>() {}

const fetches = Metric.counter("warden_jwks_fetches_total", { description: "JWKS fetches, by outcome" })
const keysAdded = Metric.counter("warden_jwks_keys_added_total", { description: "Keys that joined a JWKS" })
const keysRemoved = Metric.counter("warden_jwks_keys_removed_total", { description: "Keys that left a JWKS" })
const keysDropped = Metric.counter("warden_jwks_keys_dropped_total", {
  description: "Keys of a fetched JWKS that were not taken, by reason, counted at every fetch"
})
const keySetAge = Metric.gauge("warden_jwks_age_seconds", { description: "Age of the key set in use" })

/** The key store's metrics, to read or to export. `keysDropped` (since 0.2.0) is tagged `reason`. */
export const metrics = { fetches, keysAdded, keysRemoved, keysDropped, keySetAge } as const

const fetchesBy = Metrics.taggedBy(fetches, "outcome")
const droppedBy = Metrics.taggedBy(keysDropped, "reason")

interface Entry {
  readonly id: string
  readonly jwk: JwksSource.PublicJwk
  /**
   * The key imported for each algorithm, handed out as the same `FoundKey` every time, or why it cannot verify
   * that algorithm.
   */
  readonly found: Map<string, FoundKey | Unauthenticated>
}

/** Every algorithm `fits` knows, to tell which keys under one id collide. */
const verificationAlgorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519"
] as const

/** Which JWK key types can verify which JWS algorithms. */
const fits = (jwk: JwksSource.PublicJwk, alg: string): boolean => {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false
  switch (alg.slice(0, 2)) {
    case "RS":
    case "PS":
      return jwk.kty === "RSA"
    case "ES":
      return jwk.kty === "EC" &&
        (alg === "ES256" ? jwk.crv === "P-256" : alg === "ES384" ? jwk.crv === "P-384" : jwk.crv === "P-521")
    case "Ed":
      return jwk.kty === "OKP" && (jwk.crv === "Ed25519" || alg === "EdDSA")
    default:
      return false
  }
}

/** Whether two JWKs are the same key: an entry is kept across fetches only while its material is unchanged. */
const sameJwk = (a: JwksSource.PublicJwk, b: JwksSource.PublicJwk): boolean =>
  a.kty === b.kty && a.kid === b.kid && a.alg === b.alg && a.use === b.use && a.crv === b.crv && a.n === b.n &&
  a.e === b.e && a.x === b.x && a.y === b.y && JSON.stringify(a.key_ops) === JSON.stringify(b.key_ops)

const unknownKey = Unauthenticated.of("unknown_key", "no key of the issuer's key set matches the token")
const ambiguousKey = Unauthenticated.of(
  "unknown_key",
  "several keys of the issuer's key set fit the token's kid and algorithm: which one it means is unknowable"
)

/** The ids of a set under which some algorithm finds exactly one key. */
const usableIds = (groups: ReadonlyMap<string, ReadonlyArray<Entry>>): ReadonlyArray<string> =>
  [...groups].filter(([, group]) =>
    verificationAlgorithms.some((alg) => group.filter((e) => fits(e.jwk, alg)).length === 1)
  ).map(([id]) => id)

/** Builds a key store; its refresh fiber lives in the current scope. */
export const make = (
  options: Options
): Effect.Effect<Context.Tag.Service<KeyStore>, JwksSource.JwksFetchError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    yield* JwksSource.checkUrl(options.jwksUrl, options.allowInsecureLoopback === true)
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const clock = yield* Effect.clock
    const refreshInterval = Duration.decode(options.refreshInterval ?? Duration.minutes(5))
    const minRefresh = Duration.decode(options.minRefreshInterval ?? Duration.minutes(1))
    const maxRefresh = Duration.decode(options.maxRefreshInterval ?? Duration.hours(1))
    const cooldownMs = Duration.toMillis(options.cooldown ?? Duration.seconds(30))
    const maxStaleMs = Duration.toMillis(options.maxStale ?? Duration.hours(1))
    const jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 0.5)

    /** The keys of the set by id: usually one, several when keys of different types share a kid. */
    let entries = new Map<string, ReadonlyArray<Entry>>()
    let current = new Set<Entry>()
    let usable = new Set<string>()
    /** Which entry handed out each `FoundKey`, for `isCurrent`. */
    const owners = new WeakMap<FoundKey, Entry>()
    let fetchedAt: number | undefined
    /** When the last on-demand fetch began: the unknown-kid cooldown runs from there. */
    let lastAttempt: number | undefined
    let lastFailure: JwksSource.JwksFetchError | undefined
    let nextInterval = refreshInterval
    let count = 0
    /** What the last fetch dropped, so a set that keeps dropping the same keys is not logged at every refresh. */
    let droppedBefore = ""
    const listeners: Array<(ids: ReadonlyArray<string>) => void> = []

    const fetchOnce = Effect.gen(function*() {
      count++
      const fetched = yield* Effect.either(JwksSource.fetch(options.jwksUrl, options))
      if (Either.isLeft(fetched)) {
        lastFailure = fetched.left
        yield* Metric.increment(fetchesBy(fetched.left.reason))
        yield* Effect.logWarning(`warden: JWKS fetch failed: ${fetched.left.message}`)
        return yield* fetched.left
      }
      const { dropped } = fetched.right
      for (const reason of dropped) yield* Metric.increment(droppedBy(reason))
      const droppedNow = [...new Set(dropped)].map((r) => `${dropped.filter((d) => d === r).length} ${r}`).join(", ")
      if (droppedNow !== droppedBefore && droppedNow !== "") {
        yield* Effect.logWarning(`warden: JWKS keys not taken: ${droppedNow}`)
      }
      droppedBefore = droppedNow
      const next = new Map<string, Array<Entry>>()
      for (const jwk of fetched.right.keys) {
        const id = JwksSource.idOf(jwk)
        // `decode` drops the keys `idOf` cannot name.
        if (id === undefined) continue
        const group = next.get(id) ?? []
        if (group.some((e) => sameJwk(e.jwk, jwk))) continue
        // An entry is kept across fetches only while its material is unchanged: the same key, the same identity.
        group.push(entries.get(id)?.find((e) => sameJwk(e.jwk, jwk)) ?? { id, jwk, found: new Map() })
        next.set(id, group)
      }
      const nextCurrent = new Set([...next.values()].flat())
      // A key whose material changed under the same id left the set as much as one that is gone.
      const removedEntries = [...current].filter((e) => !nextCurrent.has(e))
      const removed = [...new Set(removedEntries.map((e) => e.id))]
      const added = [...nextCurrent].filter((e) => !current.has(e))
      entries = next
      current = nextCurrent
      usable = new Set(usableIds(next))
      fetchedAt = yield* Clock.currentTimeMillis
      lastFailure = undefined
      const maxAge = fetched.right.maxAgeSeconds
      nextInterval = maxAge === undefined ?
        refreshInterval :
        Duration.clamp(Duration.seconds(maxAge), { minimum: minRefresh, maximum: maxRefresh })
      yield* Metric.increment(fetchesBy("ok"))
      yield* Metric.incrementBy(keysAdded, added.length)
      yield* Metric.incrementBy(keysRemoved, removedEntries.length)
      yield* Metric.set(keySetAge, 0)
      if (removed.length > 0) { for (const listener of listeners) listener(removed) }
    }).pipe(
      Effect.tapDefect((cause) => Effect.logError("warden: JWKS fetch failed unexpectedly", cause)),
      Effect.provide(context)
    )

    /** One fetch at a time: callers arriving while one is under way wait for it. */
    const flight = SingleFlight.make(fetchOnce, scope)
    const shared = flight.run

    /**
     * A fetch whose failure, whatever it is (defects included, logged by `fetchOnce`), leaves the store as it was:
     * `true` when it worked. Neither a token nor the refresh fiber ever dies of a fetch.
     */
    const survive = (fetch: Effect.Effect<void, JwksSource.JwksFetchError>) =>
      Effect.matchCause(fetch, { onFailure: () => false, onSuccess: () => true })

    /**
     * An on-demand fetch, for a token whose kid is unknown or whose set is stale: it joins a fetch under way, else
     * fetches unless another on-demand fetch began within the cooldown (failed ones included). Only these use the
     * budget: scheduled refreshes and `refresh` leave it to the tokens that need it.
     */
    const fetchIfCool = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (flight.busy()) return survive(shared)
      if (lastAttempt !== undefined && now - lastAttempt < cooldownMs) return Effect.void
      lastAttempt = now
      return survive(shared)
    })

    /** The keys under the kid (or, without one, in the whole set) that fit the algorithm. */
    const lookup = (kid: string | undefined, alg: string): ReadonlyArray<Entry> =>
      (kid !== undefined ? entries.get(kid) ?? [] : [...current]).filter((e) => fits(e.jwk, alg))

    const unusable = (why: string) =>
      Unauthenticated.of("unknown_key", `the matching key of the issuer's key set cannot be used: it ${why}`)

    const importKey = (entry: Entry, alg: string): Effect.Effect<FoundKey, Unauthenticated> => {
      const known = entry.found.get(alg)
      if (known !== undefined) return known instanceof Unauthenticated ? Effect.fail(known) : Effect.succeed(known)
      return Effect.tryPromise({
        try: () => jose.importJWK(entry.jwk as jose.JWK, alg) as Promise<jose.CryptoKey>,
        catch: () => unusable("does not import for the token's algorithm")
      }).pipe(
        Effect.flatMap((key) => {
          // Another fiber may have imported it meanwhile: every caller gets the same `FoundKey`.
          const already = entry.found.get(alg)
          if (already !== undefined) {
            return already instanceof Unauthenticated
              ? Effect.fail(already)
              : Effect.succeed(already)
          }
          const keyObject = crypto.KeyObject.from(key)
          const problem = Native.keyProblem(alg, keyObject)
          if (problem !== undefined) {
            // Remembered, so a flood of tokens naming the key does not import it again and again.
            const refusal = unusable(problem)
            entry.found.set(alg, refusal)
            return Effect.fail(refusal)
          }
          const found: FoundKey = { id: entry.id, key, keyObject }
          entry.found.set(alg, found)
          owners.set(found, entry)
          return Effect.succeed(found)
        })
      )
    }

    const fresh = Effect.map(
      Clock.currentTimeMillis,
      (now) => fetchedAt !== undefined && now - fetchedAt <= maxStaleMs
    )

    const find = (header: { readonly kid?: string | undefined; readonly alg: string }) =>
      Effect.gen(function*() {
        if (!(yield* fresh)) {
          yield* fetchIfCool
          if (!(yield* fresh)) {
            return yield* Unauthenticated.of(
              "keys_unavailable",
              "the issuer's keys could not be fetched recently enough to verify tokens"
            )
          }
        }
        let candidates = lookup(header.kid, header.alg)
        if (candidates.length === 0) {
          yield* fetchIfCool
          candidates = lookup(header.kid, header.alg)
        }
        // Several: the issuer published them so; asking it again would not tell them apart.
        if (candidates.length > 1) return yield* ambiguousKey
        const [entry] = candidates
        if (entry === undefined) return yield* unknownKey
        return yield* importKey(entry, header.alg)
      })

    const unsafeFresh = () => fetchedAt !== undefined && clock.unsafeCurrentTimeMillis() - fetchedAt <= maxStaleMs

    const findKnown = (header: { readonly kid?: string | undefined; readonly alg: string }) => {
      if (!unsafeFresh()) return undefined
      const candidates = lookup(header.kid, header.alg)
      if (candidates.length > 1) return ambiguousKey
      return candidates[0]?.found.get(header.alg)
    }

    const retryDelay = Duration.min(Duration.millis(cooldownMs), refreshInterval)
    /**
     * A scheduled refresh: a fetch that begins now. One under way began earlier, perhaps before a key was
     * published, so it is waited for, then another is made.
     */
    const scheduled = Effect.suspend(() => flight.busy() ? Effect.zipRight(survive(shared), shared) : shared)
    /** Refreshes, and says how long to wait for the next: the interval less some jitter, or the cooldown after a failure. */
    const fetchThenDelay = Effect.flatMap(
      survive(scheduled),
      (ok) =>
        ok ? Effect.map(Random.next, (r) => Duration.times(nextInterval, 1 - jitter * r)) : Effect.succeed(retryDelay)
    )

    // The first fetch happens before the layer is ready; a failure is not fatal (tokens fail closed until it works).
    // It opens the cooldown as an on-demand fetch would: the tokens that arrive first are what it is for.
    lastAttempt = yield* Clock.currentTimeMillis
    const firstDelay = yield* fetchThenDelay
    yield* Effect.iterate(firstDelay, {
      while: () => true,
      body: (delay) => Effect.zipRight(Effect.sleep(delay), fetchThenDelay)
    }).pipe(Effect.interruptible, Effect.forkIn(scope))

    return {
      find: (header) => find(header).pipe(Effect.withSpan("warden.jwks.find", { captureStackTrace: false })),
      findKnown,
      isCurrent: (found) => {
        const owner = owners.get(found)
        return owner !== undefined && current.has(owner) && unsafeFresh()
      },
      has: (id) => usable.has(id) && unsafeFresh(),
      onRemoved: (listener) => {
        listeners.push(listener)
      },
      refresh: shared,
      status: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.as(
          fetchedAt === undefined ? Effect.void : Metric.set(keySetAge, (now - fetchedAt) / 1000),
          { ids: [...usable], fetchedAt, lastFailure, fetches: count }
        ))
    }
  })

/** The key store as a layer. */
export const layer = (options: Options): Layer.Layer<KeyStore, JwksSource.JwksFetchError, HttpClient.HttpClient> =>
  Layer.scoped(KeyStore, make(options))

/**
 * The key store's options from Warden's default names: `WARDEN_JWKS_URL`,
 * and, each optional, `WARDEN_JWKS_ALLOW_INSECURE_LOOPBACK`,
 * `WARDEN_JWKS_REFRESH_INTERVAL`, `WARDEN_JWKS_MIN_REFRESH_INTERVAL`,
 * `WARDEN_JWKS_MAX_REFRESH_INTERVAL`, `WARDEN_JWKS_COOLDOWN`,
 * `WARDEN_JWKS_MAX_STALE`, `WARDEN_JWKS_TIMEOUT` (durations such as `5m` or
 * `30 seconds`), `WARDEN_JWKS_JITTER` (0 to 0.5) and `WARDEN_JWKS_MAX_BYTES`.
 * What is unset keeps the default of `Options`.
 *
 * @since 0.2.0
 * @category configuration
 */
export const config: Config.Config<Options> = Config.zipWith(
  Config.nonEmptyString("WARDEN_JWKS_URL"),
  Settings.optional({
    allowInsecureLoopback: Config.boolean("WARDEN_JWKS_ALLOW_INSECURE_LOOPBACK"),
    refreshInterval: Settings.duration("WARDEN_JWKS_REFRESH_INTERVAL"),
    minRefreshInterval: Settings.duration("WARDEN_JWKS_MIN_REFRESH_INTERVAL"),
    maxRefreshInterval: Settings.duration("WARDEN_JWKS_MAX_REFRESH_INTERVAL"),
    jitter: Config.validate(Config.number("WARDEN_JWKS_JITTER"), {
      message: "expected a fraction between 0 and 0.5",
      validation: (jitter) => jitter >= 0 && jitter <= 0.5
    }),
    cooldown: Settings.duration("WARDEN_JWKS_COOLDOWN"),
    maxStale: Settings.duration("WARDEN_JWKS_MAX_STALE"),
    timeout: Settings.duration("WARDEN_JWKS_TIMEOUT"),
    maxBytes: Config.integer("WARDEN_JWKS_MAX_BYTES")
  }),
  (jwksUrl, optional): Options => ({ jwksUrl, ...optional })
)

/**
 * The key store from configuration: `config` (Warden's default names) unless
 * told otherwise; each option may be a `Config` of its own, so one process can
 * keep the keys of two issuers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<KeyStore, JwksSource.JwksFetchError | ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))
