/**
 * The key store against a real loopback JWKS endpoint: rotation, refetch on
 * unknown kids (single-flight, cooldown), every way the endpoint can fail,
 * the JWKS content rules, Cache-Control, the scoped refresh fiber, metrics.
 *
 * Time is the TestClock; HTTP is real. After a clock adjustment that wakes a
 * fetch, the tests wait for it in real time with bounded polls.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { JwksSource, JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as jose from "jose"
import type { Behaviour } from "./support/jwksServer.js"
import { JwksServer } from "./support/jwksServer.js"
import { audience, issuer } from "./support/verifier.js"

// --- harness -----------------------------------------------------------------

const claims = { iss: issuer, aud: audience, sub: "alice", tid: "acme", scope: "orders.write" }

/** Builds a key store and a verifier on a JWKS URL, in the current scope. */
const build = (jwksUrl: string, store: Partial<KeyStore.Options> = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      JwtVerifier.layer({ issuers: [issuer], audience }).pipe(
        Layer.provideMerge(KeyStore.layer({ jwksUrl, allowInsecureLoopback: true, ...store })),
        Layer.provideMerge(RevocationStore.layerMemory),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
    return { verifier: Context.get(context, JwtVerifier.JwtVerifier), keys: Context.get(context, KeyStore.KeyStore) }
  })

/** A server publishing the given keys, and a store and verifier on it. */
const harness = (published: ReadonlyArray<TokenIssuer.SigningKey>, store: Partial<KeyStore.Options> = {}) =>
  Effect.gen(function*() {
    const server = yield* JwksServer
    server.serve(TokenIssuer.jwks(published))
    return { server, ...(yield* build(server.url, store)) }
  })

const sign = (key: TokenIssuer.SigningKey, lifetimeSeconds = 300) => TokenIssuer.sign(key, claims, { lifetimeSeconds })

/** The same private key under another kid: a token naming a key the store does not know. */
const withKid = (key: TokenIssuer.SigningKey, kid: string): TokenIssuer.SigningKey => ({ ...key, kid })

/**
 * A token with its header swapped for one naming `kid`: the store refuses it
 * before its signature is looked at, so floods need not sign each token.
 */
const withHeaderKid = (token: string, kid: string) =>
  Buffer.from(JSON.stringify({ typ: "at+jwt", alg: "ES256", kid })).toString("base64url") +
  token.slice(token.indexOf("."))

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

const fetchOutcome = (exit: Exit.Exit<void, JwksSource.JwksFetchError>) =>
  Exit.isSuccess(exit) ?
    "ok" :
    exit.cause._tag === "Fail" ?
    `${exit.cause.error._tag}:${exit.cause.error.reason}` :
    `defect: ${exit.cause._tag}`

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Polls (in real time, at most 5 s) until the probe finds something. */
const poll = <A>(what: string, probe: Effect.Effect<A | undefined>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const found = yield* probe
      if (found !== undefined) return found
      yield* realSleep(10)
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** Polls (in real time, at most 5 s) until the condition holds. */
const eventually = (what: string, condition: Effect.Effect<boolean>) =>
  Effect.asVoid(poll(what, Effect.map(condition, (holds) => holds ? true : undefined)))

/** Lets a fetch that should not happen have the time to show up, before asserting it did not. */
const quiet = realSleep(60)

const now = TestClock.currentTimeMillis

/** Waits until some fiber sleeps until an instant within [from, to] (TestClock ms), and returns that instant. */
const scheduledWithin = (from: number, to: number) =>
  poll(
    `a sleep scheduled within [${from}, ${to}]`,
    Effect.map(TestClock.sleeps(), (sleeps) =>
      Option.getOrUndefined(Chunk.findFirst(sleeps, (at) => at >= from && at <= to)))
  )

/**
 * Runs an effect whose fetch the endpoint leaves unanswered, then moves the
 * TestClock past the fetch timeout once the request is on the wire.
 */
const pastTimeout = <A, E>(
  effect: Effect.Effect<A, E>,
  requests: () => number,
  timeout: Duration.DurationInput
) =>
  Effect.gen(function*() {
    const before = requests()
    const fiber = yield* Effect.fork(effect)
    const deadline = (yield* now) + Duration.toMillis(timeout)
    yield* eventually("the request to reach the endpoint", Effect.sync(() => requests() > before))
    yield* scheduledWithin(deadline, deadline)
    yield* TestClock.adjust(timeout)
    return yield* Fiber.await(fiber)
  })

// --- rotation ----------------------------------------------------------------

describe("KeyStore: rotation through a real JWKS endpoint", () => {
  it.scoped("a new key verifies once published; a removed key stops verifying at once, cached tokens included", () =>
    Effect.gen(function*() {
      const old = yield* TokenIssuer.generateKey("ES256", "old")
      const { keys, server, verifier } = yield* harness([old])
      const oldToken = yield* sign(old)
      expect(reasonOf(yield* Effect.exit(verifier.verify(oldToken)))).toBe("ok")
      // Now held in the verified-token cache.
      expect(reasonOf(yield* Effect.exit(verifier.verify(oldToken)))).toBe("ok")

      const next = yield* TokenIssuer.generateKey("ES256", "new")
      server.serve(TokenIssuer.jwks([old, next]))
      yield* keys.refresh
      expect((yield* keys.status).ids).toEqual(["old", "new"])
      const newToken = yield* sign(next)
      expect(reasonOf(yield* Effect.exit(verifier.verify(newToken)))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(verifier.verify(oldToken)))).toBe("ok")

      server.serve(TokenIssuer.jwks([next]))
      yield* keys.refresh
      expect(keys.has("old")).toBe(false)
      expect(keys.has("new")).toBe(true)
      // The cached token of the removed key, and any other token of it, is refused from now on.
      expect(reasonOf(yield* Effect.exit(verifier.verify(oldToken)))).toBe("unknown_key")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(old))))).toBe("unknown_key")
      expect(reasonOf(yield* Effect.exit(verifier.verify(newToken)))).toBe("ok")
    }))

  it.scoped("listeners hear which keys left the set, once per fetch that removed some", () =>
    Effect.gen(function*() {
      const [a, b, c] = yield* Effect.all([
        TokenIssuer.generateKey("ES256", "a"),
        TokenIssuer.generateKey("EdDSA", "b"),
        TokenIssuer.generateKey("RS256", "c")
      ])
      const { keys, server } = yield* harness([a, b, c])
      const heard: Array<ReadonlyArray<string>> = []
      keys.onRemoved((ids) => heard.push(ids))
      yield* keys.refresh
      server.serve(TokenIssuer.jwks([b]))
      yield* keys.refresh
      yield* keys.refresh
      expect(heard).toEqual([["a", "c"]])
    }))

  it.scoped("a kid re-published with other key material: the old material stops verifying, the new one verifies", () =>
    Effect.gen(function*() {
      const before = yield* TokenIssuer.generateKey("ES256", "signing")
      const { keys, server, verifier } = yield* harness([before])
      const beforeToken = yield* sign(before)
      expect(reasonOf(yield* Effect.exit(verifier.verify(beforeToken)))).toBe("ok")

      const after = yield* TokenIssuer.generateKey("ES256", "signing")
      server.serve(TokenIssuer.jwks([after]))
      yield* keys.refresh
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(after))))).toBe("ok")
      // Cached or not, a token of the replaced material no longer verifies.
      expect(reasonOf(yield* Effect.exit(verifier.verify(beforeToken)))).toBe("signature")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(before))))).toBe("signature")
    }))
})

// --- unknown kids --------------------------------------------------------------

describe("KeyStore: unknown kids", () => {
  it.scoped("a kid published after the first fetch verifies without an explicit refresh, once the cooldown allows", () =>
    Effect.gen(function*() {
      const old = yield* TokenIssuer.generateKey("ES256", "old")
      const { keys, server, verifier } = yield* harness([old], { cooldown: "30 seconds", refreshInterval: "1 day" })
      expect(server.requests()).toBe(1)
      const next = yield* TokenIssuer.generateKey("ES256", "new")
      server.serve(TokenIssuer.jwks([old, next]))
      const token = yield* sign(next)

      // Within the cooldown of the first fetch the endpoint is not asked again.
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("unknown_key")
      yield* quiet
      expect(server.requests()).toBe(1)

      yield* TestClock.adjust("30 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      expect(server.requests()).toBe(2)
      expect((yield* keys.status).ids).toEqual(["old", "new"])
    }))

  it.scoped(
    "10,000 concurrent verifications of a token with a new kid share exactly one fetch",
    () =>
      Effect.gen(function*() {
        const old = yield* TokenIssuer.generateKey("ES256", "old")
        const { keys, server, verifier } = yield* harness([old], { refreshInterval: "1 day" })
        // EdDSA: the cheapest signature to check 10,000 times.
        const next = yield* TokenIssuer.generateKey("EdDSA", "new")
        server.serve(TokenIssuer.jwks([old, next]))
        const token = yield* sign(next)
        yield* TestClock.adjust("31 seconds")

        const before = { requests: server.requests(), fetches: (yield* keys.status).fetches }
        const exits = yield* Effect.all(
          Array.from({ length: 10_000 }, () => Effect.exit(verifier.verify(token))),
          { concurrency: "unbounded" }
        )
        expect(exits.map(reasonOf).filter((r) => r !== "ok")).toEqual([])
        yield* quiet
        expect(server.requests() - before.requests).toBe(1)
        expect((yield* keys.status).fetches - before.fetches).toBe(1)
      }),
    60_000
  )

  it.scoped(
    "a flood of random unknown kids: at most one fetch per cooldown, no defect, known keys keep verifying",
    () =>
      Effect.gen(function*() {
        const known = yield* TokenIssuer.generateKey("ES256", "known")
        const { server, verifier } = yield* harness([known], { cooldown: "30 seconds", refreshInterval: "1 day" })
        const strangerToken = yield* sign(yield* TokenIssuer.generateKey("ES256", "stranger"))
        const flood = (size: number) =>
          Effect.gen(function*() {
            const random = Array.from(
              { length: size },
              (_, i) => withHeaderKid(strangerToken, `random-${i}-${Math.random().toString(36).slice(2)}`)
            )
            // Fresh tokens of the known key (distinct jti), so none is answered from the cache.
            const valid = yield* Effect.forEach(Array.from({ length: 20 }), () => sign(known))
            const before = server.requests()
            const [floodExits, validExits] = yield* Effect.all([
              Effect.all(random.map((t) => Effect.exit(verifier.verify(t))), { concurrency: "unbounded" }),
              Effect.all(valid.map((t) => Effect.exit(verifier.verify(t))), { concurrency: "unbounded" })
            ], { concurrency: "unbounded" })
            yield* quiet
            return {
              fetches: server.requests() - before,
              flood: [...new Set(floodExits.map(reasonOf))],
              valid: [...new Set(validExits.map(reasonOf))]
            }
          })

        // The first fetch was at t=0: the cooldown is still running.
        expect(yield* flood(2_000)).toEqual({ fetches: 0, flood: ["unknown_key"], valid: ["ok"] })
        yield* TestClock.adjust("30 seconds") // t=30 s: one fetch allowed (at t=30 s)
        expect(yield* flood(2_000)).toEqual({ fetches: 1, flood: ["unknown_key"], valid: ["ok"] })
        yield* TestClock.adjust("29 seconds") // t=59 s: within the cooldown of the fetch at 30 s
        expect(yield* flood(2_000)).toEqual({ fetches: 0, flood: ["unknown_key"], valid: ["ok"] })
        yield* TestClock.adjust("1 second") // t=60 s: allowed again
        expect(yield* flood(2_000)).toEqual({ fetches: 1, flood: ["unknown_key"], valid: ["ok"] })
      }),
    60_000
  )

  it.scoped("known keys do not wait for an unknown-kid refetch that is under way", () =>
    Effect.gen(function*() {
      const known = yield* TokenIssuer.generateKey("ES256", "known")
      const { server, verifier } = yield* harness([known], { refreshInterval: "1 day", timeout: "5 seconds" })
      const stranger = yield* TokenIssuer.generateKey("ES256", "stranger")
      server.behave({ _tag: "Hang" })
      yield* TestClock.adjust("31 seconds")
      const before = server.requests()
      const unknown = yield* Effect.fork(Effect.exit(verifier.verify(yield* sign(stranger))))
      yield* eventually("the refetch to reach the endpoint", Effect.sync(() => server.requests() > before))
      // The refetch hangs; a token of a known key verifies meanwhile.
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(known))))).toBe("ok")
      expect(unknown.unsafePoll()).toBeNull()
      yield* TestClock.adjust("5 seconds")
      expect(reasonOf(yield* Fiber.join(unknown))).toBe("unknown_key")
    }))

  it.scoped("failed fetches are rate-limited too: unknown kids within the cooldown of a 500 cause no request", () =>
    Effect.gen(function*() {
      const known = yield* TokenIssuer.generateKey("ES256", "known")
      const { keys, server, verifier } = yield* harness([known], { cooldown: "30 seconds", refreshInterval: "1 day" })
      const strangerToken = yield* sign(yield* TokenIssuer.generateKey("ES256", "stranger"))
      const unknownKid = (n: number) =>
        Effect.forEach(
          Array.from({ length: n }, (_, i) => `unknown-${i}-${Math.random().toString(36).slice(2)}`),
          (kid) => Effect.map(Effect.exit(verifier.verify(withHeaderKid(strangerToken, kid))), reasonOf),
          { concurrency: 10 }
        )
      server.behave({ _tag: "Status", status: 500 })
      yield* TestClock.adjust("30 seconds")

      expect(new Set(yield* unknownKid(1))).toEqual(new Set(["unknown_key"]))
      expect(server.requests()).toBe(2)
      expect((yield* keys.status).lastFailure?.reason).toBe("status")

      expect(new Set(yield* unknownKid(200))).toEqual(new Set(["unknown_key"]))
      yield* TestClock.adjust("29 seconds")
      expect(new Set(yield* unknownKid(200))).toEqual(new Set(["unknown_key"]))
      yield* quiet
      expect(server.requests()).toBe(2)
      // The last good keys still serve.
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(known))))).toBe("ok")

      yield* TestClock.adjust("1 second")
      expect(new Set(yield* unknownKid(200))).toEqual(new Set(["unknown_key"]))
      yield* quiet
      expect(server.requests()).toBe(3)
    }))
})

// --- rotation under a flood ------------------------------------------------------------

describe("KeyStore: the unknown-kid budget is for unknown kids", () => {
  it.scoped("a scheduled refresh leaves it alone: a key published just after one verifies at once", () =>
    Effect.gen(function*() {
      const old = yield* TokenIssuer.generateKey("ES256", "old")
      const { keys, server, verifier } = yield* harness([old], {
        refreshInterval: "1 minute",
        cooldown: "30 seconds",
        jitter: 0
      })
      yield* scheduledWithin(60_000, 60_000)
      yield* TestClock.adjust("1 minute")
      yield* eventually("the scheduled refresh", Effect.sync(() => server.requests() === 2))
      yield* scheduledWithin(120_000, 120_000)

      const next = yield* TokenIssuer.generateKey("ES256", "next")
      server.serve(TokenIssuer.jwks([old, next]))
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(next))))).toBe("ok")
      expect(server.requests()).toBe(3)
      // That on-demand fetch does use the budget: another unknown kid within the cooldown asks nothing.
      const stranger = yield* TokenIssuer.generateKey("ES256", "stranger")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(stranger))))).toBe("unknown_key")
      yield* quiet
      expect(server.requests()).toBe(3)
      expect((yield* keys.status).ids).toEqual(["old", "next"])
    }))

  it.scoped("a scheduled refresh that finds a fetch under way waits for it, then makes its own", () =>
    Effect.gen(function*() {
      const old = yield* TokenIssuer.generateKey("ES256", "old")
      const { keys, server, verifier } = yield* harness([old], {
        refreshInterval: "1 minute",
        cooldown: "10 seconds",
        timeout: "20 seconds",
        jitter: 0
      })
      yield* TestClock.adjust("50 seconds")
      // An on-demand fetch whose answer, the set as it was when asked, comes late.
      server.behave({ _tag: "Slow", delayMs: 300, body: TokenIssuer.jwks([old]) })
      const stranger = yield* sign(yield* TokenIssuer.generateKey("ES256", "stranger"))
      const unknown = yield* Effect.fork(Effect.exit(verifier.verify(stranger)))
      yield* eventually("the on-demand fetch", Effect.sync(() => server.requests() === 2))
      const next = yield* TokenIssuer.generateKey("ES256", "next")
      server.serve(TokenIssuer.jwks([old, next]))
      // The refresh due at 60 s begins while that fetch is still out; it must not settle for its answer.
      yield* TestClock.adjust("10 seconds")
      expect(reasonOf(yield* Fiber.join(unknown))).toBe("unknown_key")
      yield* eventually("the scheduled refresh's own fetch", Effect.map(keys.status, (s) => s.ids.includes("next")))
      yield* quiet
      expect(server.requests()).toBe(3)
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(next))))).toBe("ok")
    }))

  it.scoped(
    "an issuer that publishes each key one refresh interval before signing with it: under a flood of random kids, " +
      "no valid token is refused, and fetches stay within the schedule plus one per cooldown",
    () =>
      Effect.gen(function*() {
        const intervalMs = 300_000
        const cooldownMs = 30_000
        const stepMs = 10_000
        const rotationMs = 600_000
        const rotations = 4
        /** Each new key is published 10 s after a scheduled refresh, so only the next one can bring it. */
        const publishAt = (i: number) => intervalMs + 10_000 + i * rotationMs
        const elapsed = publishAt(rotations - 1) + intervalMs + 3 * stepMs
        const first = yield* TokenIssuer.generateKey("ES256", "k0")
        const { keys, server, verifier } = yield* harness([first], { cooldown: "30 seconds", jitter: 0 })
        const strangerToken = yield* sign(yield* TokenIssuer.generateKey("ES256", "stranger"))

        const published: Array<TokenIssuer.SigningKey> = [first]
        let signing = first
        /** Keys published, and when the issuer starts signing with them. */
        const pending: Array<{ readonly key: TokenIssuer.SigningKey; readonly from: number }> = []
        const refused: Array<string> = []
        const floodOutcomes = new Set<string>()
        let nextTick = intervalMs
        let ticks = 0

        for (let t = stepMs; t <= elapsed; t += stepMs) {
          yield* TestClock.adjust(Duration.millis(stepMs))
          if (t >= nextTick) {
            // The scheduled refresh is done once the fiber sleeps until the next one.
            nextTick += intervalMs
            ticks++
            yield* scheduledWithin(nextTick, nextTick)
          }
          // Just after a scheduled refresh, the worst moment: a new key, signed with one interval later.
          if (t === publishAt(published.length - 1) && published.length <= rotations) {
            const key = yield* TokenIssuer.generateKey("ES256", `k${published.length}`)
            published.push(key)
            // The key two generations back has long stopped signing: retire it.
            const live = published.slice(-3)
            server.serve(TokenIssuer.jwks(live))
            pending.push({ key, from: t + intervalMs })
          }
          while (pending[0] !== undefined && pending[0].from <= t) signing = pending.shift()!.key

          const flood = Array.from(
            { length: 40 },
            (_, i) => withHeaderKid(strangerToken, `random-${t}-${i}-${Math.random().toString(36).slice(2)}`)
          )
          const valid = yield* Effect.forEach(Array.from({ length: 3 }), () => sign(signing))
          const [floodExits, validExits] = yield* Effect.all([
            Effect.all(flood.map((token) => Effect.exit(verifier.verify(token))), { concurrency: "unbounded" }),
            Effect.all(valid.map((token) => Effect.exit(verifier.verify(token))), { concurrency: "unbounded" })
          ], { concurrency: "unbounded" })
          for (const exit of floodExits) floodOutcomes.add(reasonOf(exit))
          for (const exit of validExits) {
            if (reasonOf(exit) !== "ok") refused.push(`${signing.kid} at ${t}: ${reasonOf(exit)}`)
          }
        }
        yield* quiet

        expect(signing.kid).toBe(`k${rotations}`)
        expect(refused).toEqual([])
        expect([...floodOutcomes]).toEqual(["unknown_key"])
        const onDemand = server.requests() - 1 - ticks
        expect(ticks).toBe(Math.floor(elapsed / intervalMs))
        expect(onDemand).toBeGreaterThan(0)
        expect(onDemand).toBeLessThanOrEqual(Math.floor(elapsed / cooldownMs) + 1)
        expect((yield* keys.status).fetches).toBe(server.requests())
      }),
    120_000
  )
})

// --- endpoint failures -----------------------------------------------------------

interface FailureCase {
  readonly name: string
  readonly reason: JwksSource.FetchFailure
  /** The endpoint leaves the request unanswered: the fetch ends at the timeout. */
  readonly hangs?: boolean
  /** The endpoint is gone: no recovery step, and requests are not counted. */
  readonly down?: boolean
  readonly behaviour?: Behaviour
}

const failures: ReadonlyArray<FailureCase> = [
  { name: "HTTP 503", reason: "status", behaviour: { _tag: "Status", status: 503 } },
  { name: "HTTP 500", reason: "status", behaviour: { _tag: "Status", status: 500 } },
  { name: "HTTP 404", reason: "status", behaviour: { _tag: "Status", status: 404 } },
  { name: "a redirect to another endpoint", reason: "redirect" },
  {
    name: "slower than the timeout",
    reason: "timeout",
    hangs: true,
    behaviour: { _tag: "Slow", delayMs: 30_000, body: { keys: [] } }
  },
  { name: "hanging", reason: "timeout", hangs: true, behaviour: { _tag: "Hang" } },
  { name: "not JSON", reason: "invalid", behaviour: { _tag: "Garbage", text: "<html>maintenance</html>" } },
  {
    name: "JSON but not a JWKS",
    reason: "invalid",
    behaviour: { _tag: "Garbage", text: "{\"keys\":\"all of them\"}" }
  },
  { name: "a JSON array", reason: "invalid", behaviour: { _tag: "Garbage", text: "[]" } },
  { name: "larger than maxBytes", reason: "too_large", behaviour: { _tag: "Oversized", bytes: 10_000 } },
  { name: "down (connection refused)", reason: "transport", down: true }
]

const failureStore = {
  timeout: "2 seconds",
  maxBytes: 4096,
  maxStale: "10 minutes",
  refreshInterval: "1 day",
  cooldown: "30 seconds",
  jitter: 0
} satisfies Partial<KeyStore.Options>

describe("KeyStore: when the endpoint fails", () => {
  for (const failure of failures) {
    it.scoped(
      `${failure.name}: refresh fails with ${failure.reason}, the last good keys serve for maxStale, then fail closed`,
      () =>
        Effect.gen(function*() {
          const serverScope = yield* Scope.make()
          yield* Effect.addFinalizer(() => Scope.close(serverScope, Exit.void))
          const server = yield* Scope.extend(JwksServer, serverScope)
          const key = yield* TokenIssuer.generateKey("ES256", "good")
          server.serve(TokenIssuer.jwks([key]))
          const { keys, verifier } = yield* build(server.url, failureStore)
          const cached = yield* sign(key, 7200)
          expect(reasonOf(yield* Effect.exit(verifier.verify(cached)))).toBe("ok")

          // A second endpoint a redirect could lead to: it must never be asked.
          const elsewhere = yield* JwksServer
          elsewhere.serve(TokenIssuer.jwks([key]))
          if (failure.down) yield* Scope.close(serverScope, Exit.void)
          else server.behave(failure.behaviour ?? { _tag: "Redirect", location: elsewhere.url })

          /** Runs a verification or refresh that fetches from the failing endpoint. */
          const fetching = <A, E>(effect: Effect.Effect<A, E>) =>
            failure.hangs ? pastTimeout(effect, server.requests, failureStore.timeout) : Effect.exit(effect)

          const refreshed = yield* fetching(keys.refresh)
          expect(fetchOutcome(refreshed)).toBe(`JwksFetchError:${failure.reason}`)
          const afterFailure = yield* keys.status
          expect(afterFailure.lastFailure?.reason).toBe(failure.reason)
          expect(afterFailure.ids).toEqual(["good"])

          // Within maxStale: the last good keys verify, without asking the endpoint.
          yield* TestClock.adjust("9 minutes")
          expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(key))))).toBe("ok")
          expect(reasonOf(yield* Effect.exit(verifier.verify(cached)))).toBe("ok")
          expect((yield* keys.status).fetches).toBe(afterFailure.fetches)

          // Past maxStale with the endpoint still failing: one more attempt, then fail closed.
          yield* TestClock.adjust("61 seconds")
          const stale = yield* fetching(verifier.verify(yield* sign(key)))
          expect(reasonOf(stale)).toBe("keys_unavailable")
          expect((yield* keys.status).fetches).toBe(afterFailure.fetches + 1)
          expect(reasonOf(yield* Effect.exit(verifier.verify(cached)))).toBe("keys_unavailable")
          expect(fetchOutcome(yield* fetching(keys.refresh))).toBe(`JwksFetchError:${failure.reason}`)

          if (!failure.down) {
            // Once the endpoint serves again, the store recovers at the next allowed fetch.
            server.serve(TokenIssuer.jwks([key]))
            yield* TestClock.adjust("30 seconds")
            expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(key))))).toBe("ok")
            expect((yield* keys.status).lastFailure).toBeUndefined()
          }
          expect(elsewhere.requests()).toBe(0)
        })
    )
  }

  it.scoped("a redirect is not followed, whatever its status", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", "good")
      const { keys, server } = yield* harness([key])
      const elsewhere = yield* JwksServer
      elsewhere.serve(TokenIssuer.jwks([key]))
      server.behave({ _tag: "Redirect", location: elsewhere.url })
      expect(fetchOutcome(yield* Effect.exit(keys.refresh))).toBe("JwksFetchError:redirect")
      expect(elsewhere.requests()).toBe(0)
    }))

  it.scoped("a first fetch that fails is not fatal: tokens fail closed until a fetch works", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", "good")
      const server = yield* JwksServer
      server.behave({ _tag: "Status", status: 502 })
      const { keys, verifier } = yield* build(server.url, { cooldown: "30 seconds", refreshInterval: "1 day" })
      expect(server.requests()).toBe(1)
      expect(yield* keys.status).toMatchObject({ ids: [], fetchedAt: undefined, fetches: 1 })
      const token = yield* sign(key)
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("keys_unavailable")

      server.serve(TokenIssuer.jwks([key]))
      // Within the cooldown of the failed fetch, tokens do not make the store ask again...
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("keys_unavailable")
      yield* quiet
      expect(server.requests()).toBe(1)
      // ...and the refresh fiber retries after the cooldown, so the first token after it verifies.
      yield* scheduledWithin(30_000, 30_000)
      yield* TestClock.adjust("30 seconds")
      yield* eventually("the retry", Effect.map(keys.status, (s) => s.fetchedAt !== undefined))
      expect(server.requests()).toBe(2)
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
    }))
})

// --- JWKS content rules ------------------------------------------------------------

describe("KeyStore: what a JWKS may publish", () => {
  it.scoped("private keys, keys not for signatures and symmetric keys are dropped: tokens naming them are unknown_key", () =>
    Effect.gen(function*() {
      const good = yield* TokenIssuer.generateKey("ES256", "good")
      const verifyOps = yield* TokenIssuer.generateKey("ES256", "verify-ops")
      const priv = yield* TokenIssuer.generateKey("ES256", "private")
      const enc = yield* TokenIssuer.generateKey("ES256", "enc")
      const signOps = yield* TokenIssuer.generateKey("ES256", "sign-ops")
      const privateJwk = { ...(yield* Effect.promise(() => jose.exportJWK(priv.privateKey))), kid: "private" }
      expect(privateJwk.d).toBeDefined()
      const server = yield* JwksServer
      server.serve({
        keys: [
          good.publicJwk,
          { ...verifyOps.publicJwk, key_ops: ["verify"] },
          privateJwk,
          { ...enc.publicJwk, use: "enc" },
          { ...signOps.publicJwk, key_ops: ["sign"] },
          { kty: "oct", kid: "oct-secret", alg: "HS256", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" },
          { kty: "oct", kid: "oct" },
          { kty: "EC", kid: "broken", crv: "P-256" },
          "not a key"
        ]
      })
      const { keys, verifier } = yield* build(server.url)
      expect([...(yield* keys.status).ids].sort()).toEqual(["broken", "good", "verify-ops"])
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(good))))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(verifyOps))))).toBe("ok")
      for (const key of [priv, enc, signOps]) {
        expect([key.kid, reasonOf(yield* Effect.exit(verifier.verify(yield* sign(key))))]).toEqual([
          key.kid,
          "unknown_key"
        ])
      }
      const stranger = yield* TokenIssuer.generateKey("ES256")
      for (const kid of ["oct-secret", "oct"]) {
        expect(keys.has(kid)).toBe(false)
        expect([kid, reasonOf(yield* Effect.exit(verifier.verify(yield* sign(withKid(stranger, kid)))))]).toEqual([
          kid,
          "unknown_key"
        ])
      }
      // A key that decodes but cannot be imported does not verify anything, and is no defect.
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(withKid(stranger, "broken")))))).toBe(
        "unknown_key"
      )
    }))

  it.scoped("keys that cannot be named (no kid, no computable thumbprint) are dropped and counted; start-up works", () =>
    Effect.gen(function*() {
      const dropped = Metric.value(Metric.tagged(KeyStore.metrics.keysDropped, "reason", "unidentifiable")).pipe(
        Effect.map((state) => state.count)
      )
      const before = yield* dropped
      const good = yield* TokenIssuer.generateKey("ES256", "good")
      const server = yield* JwksServer
      server.serve({ keys: [{ kty: "RSA", e: "AQAB" }, good.publicJwk, { kty: "EC", crv: "P-256" }] })
      const { keys, verifier } = yield* build(server.url)
      expect((yield* keys.status).ids).toEqual(["good"])
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(good))))).toBe("ok")
      expect((yield* dropped) - before).toBe(2)
    }))

  it.scoped("a refresh that meets unusable keys, or a defect, leaves the refresh fiber alive and refusals typed", () =>
    Effect.gen(function*() {
      const good = yield* TokenIssuer.generateKey("ES256", "good")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([good]))
      let dying = false
      // An HTTP client that dies (a defect, not a failure) while `dying` is set.
      const client = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          (c) =>
            HttpClient.transformResponse(
              c,
              (response) => Effect.suspend(() => dying ? Effect.dieMessage("the client broke") : response)
            )
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const context = yield* Layer.build(
        JwtVerifier.layer({ issuers: [issuer], audience }).pipe(
          Layer.provideMerge(
            KeyStore.layer({
              jwksUrl: server.url,
              allowInsecureLoopback: true,
              refreshInterval: "1 minute",
              cooldown: "10 seconds",
              jitter: 0
            })
          ),
          Layer.provideMerge(RevocationStore.layerMemory),
          Layer.provide(client)
        )
      )
      const keys = Context.get(context, KeyStore.KeyStore)
      const verifier = Context.get(context, JwtVerifier.JwtVerifier)
      const stranger = yield* sign(yield* TokenIssuer.generateKey("ES256", "stranger"))
      /** Moves the clock to a refresh scheduled at `at` (TestClock ms) and waits for its request. */
      const refreshAt = (at: number) =>
        Effect.gen(function*() {
          yield* scheduledWithin(at, at)
          const before = (yield* keys.status).fetches
          yield* TestClock.adjust(Duration.millis(at - (yield* now)))
          yield* eventually("the scheduled refresh", Effect.map(keys.status, (s) => s.fetches > before))
          yield* quiet
        })

      // A set with a key that cannot be named, by a scheduled refresh.
      server.serve({ keys: [good.publicJwk, { kty: "RSA", e: "AQAB" }] })
      yield* refreshAt(60_000)
      expect((yield* keys.status).ids).toEqual(["good"])
      expect(reasonOf(yield* Effect.exit(verifier.verify(stranger)))).toBe("unknown_key")
      // A client that dies: on demand (an unknown kid past the cooldown), then by a scheduled refresh.
      dying = true
      yield* TestClock.adjust("30 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(stranger)))).toBe("unknown_key")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(good))))).toBe("ok")
      yield* refreshAt(120_000)

      // The fiber is alive: it retries after the cooldown and, the client working again, brings a new key.
      dying = false
      const next = yield* TokenIssuer.generateKey("ES256", "next")
      server.serve(TokenIssuer.jwks([good, next]))
      yield* refreshAt(130_000)
      expect((yield* keys.status).ids).toEqual(["good", "next"])
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(next))))).toBe("ok")
    }))

  it.scoped("a key of the wrong type for the token's algorithm is unknown_key", () =>
    Effect.gen(function*() {
      const ec = yield* TokenIssuer.generateKey("ES256", "shared")
      const { verifier } = yield* harness([ec])
      const rsa = yield* TokenIssuer.generateKey("RS256", "shared")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(rsa))))).toBe("unknown_key")
    }))

  it.effect("checkUrl: https always; http only to a loopback host and only when allowed", () =>
    Effect.sync(() => {
      const check = (url: string, allow: boolean) =>
        Either.match(JwksSource.checkUrl(url, allow), { onLeft: (e) => e.reason, onRight: () => "ok" })
      const cases: Array<[string, boolean, string]> = [
        ["https://identity.example/.well-known/jwks.json", false, "ok"],
        ["https://identity.example/jwks", true, "ok"],
        ["https://127.0.0.1:8443/jwks", false, "ok"],
        ["http://127.0.0.1:8080/jwks", false, "insecure_url"],
        ["http://127.0.0.1:8080/jwks", true, "ok"],
        ["http://127.9.8.7/jwks", true, "ok"],
        ["http://localhost:8080/jwks", true, "ok"],
        ["http://localhost:8080/jwks", false, "insecure_url"],
        ["http://[::1]:8080/jwks", true, "ok"],
        ["http://identity.example/jwks", true, "insecure_url"],
        ["http://identity.example/jwks", false, "insecure_url"],
        ["http://10.0.0.1/jwks", true, "insecure_url"],
        ["http://127.0.0.1.evil.example/jwks", true, "insecure_url"],
        ["http://localhost.evil.example/jwks", true, "insecure_url"],
        ["ftp://127.0.0.1/jwks", true, "insecure_url"],
        ["file:///etc/jwks.json", true, "insecure_url"],
        ["not a url", true, "insecure_url"],
        ["", true, "insecure_url"],
        ["/jwks", true, "insecure_url"]
      ]
      for (const [url, allow, expected] of cases) {
        expect([url, allow, check(url, allow)]).toEqual([url, allow, expected])
      }
    }))

  it.scoped("building the store on an insecure URL fails, and asks nothing of the endpoint", () =>
    Effect.gen(function*() {
      const server = yield* JwksServer
      const attempt = (jwksUrl: string, allowInsecureLoopback: boolean) =>
        Effect.scoped(Layer.build(
          KeyStore.layer({ jwksUrl, allowInsecureLoopback }).pipe(
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )).pipe(Effect.exit, Effect.map((exit) => Exit.isSuccess(exit) ? "ok" : reasonOf(exit)))
      expect(yield* attempt("http://identity.example/jwks", true)).toBe("insecure_url")
      expect(yield* attempt("http://identity.example/jwks", false)).toBe("insecure_url")
      expect(yield* attempt(server.url, false)).toBe("insecure_url")
      expect(yield* attempt("jwks", true)).toBe("insecure_url")
      expect(server.requests()).toBe(0)
      expect(yield* attempt(server.url, true)).toBe("ok")
      expect(server.requests()).toBe(1)
    }))
})

// --- Cache-Control -------------------------------------------------------------------

describe("KeyStore: Cache-Control max-age", () => {
  const bounds = { minRefreshInterval: "60 seconds", maxRefreshInterval: "3600 seconds" } as const

  /**
   * Asserts the refresh fiber is due to refetch between `from` and `to` ms
   * after now, does not a millisecond before it is due, and does once then.
   * Leaves the clock at the refetch, so the next one is scheduled from there.
   */
  const refetchWithin = (server: JwksServer, from: number, to: number) =>
    Effect.gen(function*() {
      const start = yield* now
      const due = yield* scheduledWithin(start + from, start + to)
      const before = server.requests()
      yield* TestClock.adjust(Duration.millis(due - start - 1))
      yield* quiet
      expect(server.requests()).toBe(before)
      yield* TestClock.adjust(Duration.millis(1))
      yield* eventually("the scheduled refetch", Effect.sync(() => server.requests() > before))
      yield* quiet
      expect(server.requests()).toBe(before + 1)
    })

  const cases: Array<[string, string | undefined, number]> = [
    ["max-age=120 within the bounds is followed", "max-age=120", 120_000],
    ["with other directives around it", "public, max-age=120, must-revalidate", 120_000],
    ["max-age=5 is clamped up to the minimum", "max-age=5", 60_000],
    ["max-age=0 is clamped up to the minimum", "no-cache, max-age=0", 60_000],
    ["max-age=999999 is clamped down to the maximum", "max-age=999999", 3_600_000],
    ["without max-age, the refresh interval applies", undefined, 300_000],
    ["an s-maxage alone is not a max-age", "s-maxage=120", 300_000]
  ]
  for (const [name, cacheControl, intervalMs] of cases) {
    it.scoped(`${name} (${cacheControl ?? "no Cache-Control"}: every ${intervalMs / 1000} s)`, () =>
      Effect.gen(function*() {
        const key = yield* TokenIssuer.generateKey("ES256", "k")
        const server = yield* JwksServer
        server.serve(TokenIssuer.jwks([key]), cacheControl)
        yield* build(server.url, { ...bounds, jitter: 0, refreshInterval: "5 minutes" })
        expect(server.requests()).toBe(1)
        yield* refetchWithin(server, intervalMs, intervalMs)
        yield* refetchWithin(server, intervalMs, intervalMs)
      }))
  }

  it.scoped("the default jitter takes at most 10% off the interval", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", "k")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([key]), "max-age=120")
      yield* build(server.url, bounds)
      for (let i = 0; i < 3; i++) yield* refetchWithin(server, 108_000, 120_000)
    }))

  it.scoped("a max-age stops applying once a response comes without one", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", "k")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([key]), "max-age=600")
      yield* build(server.url, { ...bounds, jitter: 0, refreshInterval: "5 minutes" })
      server.serve(TokenIssuer.jwks([key]))
      yield* refetchWithin(server, 600_000, 600_000)
      yield* refetchWithin(server, 300_000, 300_000)
    }))
})

// --- scope -------------------------------------------------------------------------

describe("KeyStore: the refresh fiber", () => {
  it.scoped("lives in the layer's scope: closing it stops the refreshes", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256", "k")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([key]))
      // The HTTP client outlives the store's scope: only the store is closed.
      const http = yield* Layer.build(NodeHttpClient.layerUndici)
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      // Tracks every fiber the store forks.
      const forked = yield* Supervisor.track
      const context = yield* Layer.buildWithScope(
        KeyStore.layer({ jwksUrl: server.url, allowInsecureLoopback: true, refreshInterval: "1 minute", jitter: 0 })
          .pipe(Layer.provide(Layer.succeedContext(http))),
        scope
      ).pipe(Effect.supervised(forked))
      const keys = Context.get(context, KeyStore.KeyStore)
      expect(server.requests()).toBe(1)

      // While the scope is open, one interval brings exactly one more request.
      yield* scheduledWithin(60_000, 60_000)
      yield* TestClock.adjust("1 minute")
      yield* eventually("the scheduled refetch", Effect.sync(() => server.requests() === 2))
      yield* scheduledWithin(120_000, 120_000)
      yield* quiet
      expect(server.requests()).toBe(2)

      expect((yield* forked.value).some((fiber) => fiber.unsafePoll() === null)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      // No fiber of the store outlives its scope...
      expect((yield* forked.value).filter((fiber) => fiber.unsafePoll() === null)).toEqual([])
      // ...so however long the clock runs, the endpoint hears nothing more.
      yield* TestClock.adjust("10 minutes")
      yield* quiet
      expect(server.requests()).toBe(2)
      expect((yield* keys.status).fetches).toBe(2)
    }))
})

// --- metrics ----------------------------------------------------------------------

describe("KeyStore: metrics", () => {
  const fetches = (outcome: string) =>
    Metric.value(Metric.tagged(KeyStore.metrics.fetches, "outcome", outcome)).pipe(Effect.map((state) => state.count))
  const added = Metric.value(KeyStore.metrics.keysAdded).pipe(Effect.map((state) => state.count))
  const removed = Metric.value(KeyStore.metrics.keysRemoved).pipe(Effect.map((state) => state.count))
  const snapshot = Effect.all({ ok: fetches("ok"), status: fetches("status"), added, removed })

  it.scoped("counts fetches by outcome, and keys added and removed", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([TokenIssuer.generateKey("ES256", "a"), TokenIssuer.generateKey("ES256", "b")])
      const start = yield* snapshot
      const { keys, server } = yield* harness([a])
      server.serve(TokenIssuer.jwks([b]))
      yield* keys.refresh
      server.behave({ _tag: "Status", status: 500 })
      yield* Effect.exit(keys.refresh)
      yield* Effect.exit(keys.refresh)
      const end = yield* snapshot
      expect({
        ok: end.ok - start.ok,
        status: end.status - start.status,
        added: end.added - start.added,
        removed: end.removed - start.removed
      }).toEqual({ ok: 2, status: 2, added: 2, removed: 1 })
    }))
})

describe("ambiguity and shutdown", () => {
  it.scoped("two keys published under one kid are both refused: which one a token means is unknowable", () =>
    Effect.gen(function*() {
      const a = yield* TokenIssuer.generateKey("ES256", "twin")
      const b = yield* TokenIssuer.generateKey("ES256", "twin")
      const other = yield* TokenIssuer.generateKey("ES256", "other")
      const { keys, verifier } = yield* harness([a, b, other])
      expect((yield* keys.status).ids).toEqual(["other"])
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(a))))).toBe("unknown_key")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(other))))).toBe("ok")
    }))

  it.scoped("keys of different types under one kid: each token finds the key that fits its algorithm", () =>
    Effect.gen(function*() {
      const ec = yield* TokenIssuer.generateKey("ES256", "shared")
      const rsa = yield* TokenIssuer.generateKey("RS256", "shared")
      const ps = yield* TokenIssuer.generateKey("PS256", "shared-rsa")
      const rs = yield* TokenIssuer.generateKey("RS256", "shared-rsa")
      const { keys, verifier } = yield* harness([ec, rsa, ps, rs])
      expect((yield* keys.status).ids).toEqual(["shared", "shared-rsa"])
      // RFC 7517 §4.5: keys of different kty may share a kid; so may RSA keys each bound to its own alg.
      for (const key of [ec, rsa, ps, rs]) {
        expect([key.alg, reasonOf(yield* Effect.exit(verifier.verify(yield* sign(key))))]).toEqual([key.alg, "ok"])
      }
    }))

  it.scoped("two keys that fit the token's algorithm under its kid are refused, saying so; others under it serve", () =>
    Effect.gen(function*() {
      const a = yield* TokenIssuer.generateKey("ES256", "twin")
      const b = yield* TokenIssuer.generateKey("ES256", "twin")
      const rsa = yield* TokenIssuer.generateKey("RS256", "twin")
      const { server, verifier } = yield* harness([a, b, rsa])
      const before = server.requests()
      for (const key of [a, b]) {
        const error = yield* Effect.flip(verifier.verify(yield* sign(key)))
        expect([error.reason, error.description]).toEqual([
          "unknown_key",
          "several keys of the issuer's key set fit the token's kid and algorithm: which one it means is unknowable"
        ])
      }
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(rsa))))).toBe("ok")
      // The keys are there: asking the endpoint again would not tell them apart.
      yield* TestClock.adjust("31 seconds")
      yield* Effect.exit(verifier.verify(yield* sign(a)))
      yield* quiet
      expect(server.requests()).toBe(before)
    }))

  it.scoped("a verification under way while its key is replaced under the same kid leaves no cache entry behind", () =>
    Effect.gen(function*() {
      const before = yield* TokenIssuer.generateKey("ES256", "signing")
      const after = yield* TokenIssuer.generateKey("ES256", "signing")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([before]))
      const http = yield* Layer.build(NodeHttpClient.layerUndici)
      const real = yield* KeyStore.make({ jwksUrl: server.url, allowInsecureLoopback: true }).pipe(
        Effect.provide(http)
      )
      // Runs once, between the key lookup and the signature check of the next verification.
      let between: Effect.Effect<void> | undefined
      const racing: KeyStore.KeyStore["Type"] = {
        ...real,
        find: (header) =>
          Effect.tap(real.find(header), () => {
            const run = between ?? Effect.void
            between = undefined
            return run
          })
      }
      const verifier = yield* JwtVerifier.make({ issuers: [issuer], audience }).pipe(
        Effect.provideService(KeyStore.KeyStore, racing),
        Effect.provide(RevocationStore.layerMemory)
      )
      const token = yield* sign(before)
      between = Effect.zipRight(Effect.sync(() => server.serve(TokenIssuer.jwks([after]))), Effect.orDie(real.refresh))
      // Checked against the key that was current when it was looked up...
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      expect(between).toBeUndefined()
      // ...but not served from the cache now that another key stands under its kid.
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("signature")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign(after))))).toBe("ok")
    }))

  it.scoped("closing the store's scope during a fetch releases the callers waiting for it", () =>
    Effect.gen(function*() {
      const key = yield* TokenIssuer.generateKey("ES256")
      const server = yield* JwksServer
      server.serve(TokenIssuer.jwks([key]))
      const scope = yield* Scope.make()
      const { keys } = yield* build(server.url).pipe(Scope.extend(scope))
      server.behave({ _tag: "Hang" })
      const before = server.requests()
      const waiting = yield* Effect.fork(keys.refresh)
      for (let i = 0; i < 500 && server.requests() === before; i++) yield* realSleep(10)
      expect(server.requests()).toBe(before + 1)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiting)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))
})
