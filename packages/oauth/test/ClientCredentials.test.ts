/**
 * Client credentials against a real loopback token endpoint: the request on
 * the wire, tokens kept per (client, resource/audience, scope), single-flight
 * first fetches, refresh ahead of expiry, retries with backoff while the
 * endpoint fails, every way the endpoint can fail, no secret in any error, log
 * or span, the refresh fiber bound to its scope, and metrics.
 *
 * Time is the TestClock (it.scoped starts at 0) except where a timeout is
 * measured; HTTP is real. After a clock adjustment that wakes a request, the
 * tests wait for it in real time with bounded polls. Clients on the TestClock
 * get a one-day request timeout where the test jumps the clock, so a request
 * still in flight (real I/O) is not timed out by the jump.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { ClientCredentials, TokenSource } from "@warden/oauth"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { inspect } from "node:util"
import type { Behaviour } from "./support/tokenServer.js"
import { TokenServer } from "./support/tokenServer.js"

// --- harness -----------------------------------------------------------------

const clientId = "orders:eu"
const clientSecret = "p@ss w:rd/+"
/** RFC 6749 §2.3.1 / Appendix B, computed by hand: id and secret form-urlencoded, then Basic. */
const basic = `Basic ${Buffer.from("orders%3Aeu:p%40ss+w%3Ard%2F%2B").toString("base64")}`

/** Every form the client secret could leak in. */
const secretForms = [
  clientSecret,
  "p%40ss+w%3Ard%2F%2B",
  "p%40ss%20w%3Ard%2F%2B",
  basic.slice("Basic ".length)
]

const options = (
  server: TokenServer,
  extra: Partial<ClientCredentials.Options> = {}
): ClientCredentials.Options => ({
  tokenEndpoint: server.url,
  clientId,
  clientSecret: Redacted.make(clientSecret),
  allowInsecureLoopback: true,
  ...extra
})

/** On the TestClock: a request in flight must not time out when a test jumps the clock. */
const patient = { timeout: "1 day" } as const

const client = (server: TokenServer, extra: Partial<ClientCredentials.Options> = {}) =>
  ClientCredentials.make(options(server, extra))

/** The HttpClient is provided around the whole test, so it outlives the client's refresh fiber. */
const withHttp = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) =>
  Effect.provide(effect, NodeHttpClient.layerUndici)

const valueOf = (token: TokenSource.AccessToken) => Redacted.value(token.value)
const tokenOf = (source: TokenSource.TokenSource) => Effect.map(source.token, valueOf)

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Polls (in real time, at most 5 s) until the probe finds something. */
const poll = <A, E>(what: string, probe: Effect.Effect<A | undefined, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const found = yield* probe
      if (found !== undefined) return found
      yield* realSleep(10)
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** Polls (in real time, at most 5 s) until the condition holds. */
const eventually = <E>(what: string, condition: Effect.Effect<boolean, E> | (() => boolean)) =>
  Effect.asVoid(
    poll(
      what,
      Effect.map(typeof condition === "function" ? Effect.sync(condition) : condition, (holds) =>
        holds ? true : undefined)
    )
  )

/** Lets a request that should not happen have the time to show up, before asserting it did not. */
const quiet = realSleep(60)

const now = TestClock.currentTimeMillis

/** Waits until some fiber sleeps until an instant in [from, to) (TestClock ms), and returns that instant. */
const scheduledIn = (from: number, to: number) =>
  poll(
    `a sleep scheduled within [${from}, ${to})`,
    Effect.map(TestClock.sleeps(), (sleeps) =>
      Option.getOrUndefined(Chunk.findFirst(sleeps, (at) => at >= from && at < to)))
  )

/** Waits until some fiber sleeps until `at` (to a microsecond). */
const scheduledAt = (at: number) => scheduledIn(at - 0.001, at + 0.001)

/** Moves the TestClock to an instant (ms). */
const adjustTo = (at: number) =>
  Effect.flatMap(now, (t) => at > t ? TestClock.adjust(Duration.millis(at - t)) : Effect.void)

/** Everything a TokenError is ever rendered as. */
const renderings = (error: TokenSource.TokenError) => [
  JSON.stringify(error),
  error.message,
  String(error),
  inspect(error, { depth: 10 }),
  Cause.pretty(Cause.fail(error))
]

/** Asserts no rendering contains the client secret (in any encoding) or any token the server issued. */
const expectNoSecret = (texts: ReadonlyArray<string>, server: TokenServer, also: ReadonlyArray<string> = []) => {
  const secrets = [...secretForms, ...server.issued(), ...also]
  for (const text of texts) {
    for (const secret of secrets) {
      if (text.includes(secret)) expect.fail(`${JSON.stringify(secret)} leaked into: ${text}`)
    }
  }
}

const errorOf = (exit: Exit.Exit<unknown, TokenSource.TokenError>) => {
  if (Exit.isSuccess(exit)) return expect.fail("expected a TokenError, got a token")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return expect.fail(`expected a TokenError, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

// --- the request on the wire -----------------------------------------------------------

describe("ClientCredentials: the token request", () => {
  it.scoped("client_secret_basic: grant, scope, every resource, audience; Basic of the form-encoded id and secret", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server)
      const token = yield* tokenOf(credentials.source({
        scope: "orders.read orders.write",
        resource: ["https://orders.example/api", "https://billing.example/api"],
        audience: "orders-api"
      }))
      expect(server.requests()).toBe(1)
      const request = server.last()
      expect(request.issued).toBe(token)
      expect(request.method).toBe("POST")
      expect(request.path).toBe("/oauth2/token")
      expect(request.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded\b/)
      expect(request.headers["accept"]).toBe("application/json")
      expect(request.headers.authorization).toBe(basic)
      // Decoding as an authorization server does gives back the id and secret, special characters included.
      const decoded = Buffer.from(request.headers.authorization!.slice("Basic ".length), "base64").toString("utf8")
      const colon = decoded.indexOf(":")
      const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "))
      expect([formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))]).toEqual([
        clientId,
        clientSecret
      ])
      expect([...new Set(request.form.keys())].sort()).toEqual(["audience", "grant_type", "resource", "scope"])
      expect(request.form.getAll("grant_type")).toEqual(["client_credentials"])
      expect(request.form.getAll("scope")).toEqual(["orders.read orders.write"])
      expect(request.form.getAll("resource")).toEqual(["https://orders.example/api", "https://billing.example/api"])
      expect(request.form.getAll("audience")).toEqual(["orders-api"])
      // No secret in the body, in any encoding.
      expectNoSecret([request.body, decodeURIComponent(request.body)], server, [])
    })))

  it.scoped("a request without scope, resource or audience sends the grant type alone; one resource is one param", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server)
      yield* credentials.source().token
      expect([...server.last().form]).toEqual([["grant_type", "client_credentials"]])
      yield* credentials.source({ resource: "https://orders.example/api" }).token
      expect([...server.last().form]).toEqual([
        ["grant_type", "client_credentials"],
        ["resource", "https://orders.example/api"]
      ])
      expect(server.requests()).toBe(2)
    })))

  it.scoped("client_secret_post: client_id and client_secret in the body, no Authorization header", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server, { method: "client_secret_post" })
      yield* credentials.source({ scope: "orders.read", audience: "orders-api" }).token
      const request = server.last()
      expect(request.headers.authorization).toBeUndefined()
      expect([...new Set(request.form.keys())].sort()).toEqual([
        "audience",
        "client_id",
        "client_secret",
        "grant_type",
        "scope"
      ])
      expect(request.form.getAll("client_id")).toEqual([clientId])
      expect(request.form.getAll("client_secret")).toEqual([clientSecret])
      expect(request.form.getAll("grant_type")).toEqual(["client_credentials"])
      expect(request.form.getAll("scope")).toEqual(["orders.read"])
      expect(request.form.getAll("audience")).toEqual(["orders-api"])
    })))

  it.scoped("an explicit client_secret_basic is the default's behaviour", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server, { method: "client_secret_basic" })
      yield* credentials.source().token
      expect(server.last().headers.authorization).toBe(basic)
      expect(server.last().form.has("client_secret")).toBe(false)
      expect(server.last().form.has("client_id")).toBe(false)
    })))
})

// --- caching ---------------------------------------------------------------------------

describe("ClientCredentials: one token per (client, resource/audience, scope)", () => {
  it.scoped("distinct requests get distinct tokens, each issued for its own request; the same request reuses its token", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const orders = yield* client(server, patient)
      const billing = yield* ClientCredentials.make({
        ...options(server, patient),
        clientId: "billing",
        clientSecret: Redacted.make("billing-secret")
      })
      const requests: ReadonlyArray<[ClientCredentials.ClientCredentials, ClientCredentials.TokenRequest]> = [
        [orders, {}],
        [orders, { scope: "orders.read" }],
        [orders, { scope: "orders.write" }],
        [orders, { resource: "https://orders.example/api" }],
        [orders, { resource: "https://billing.example/api" }],
        [orders, { resource: ["https://orders.example/api", "https://billing.example/api"] }],
        [orders, { resource: "https://orders.example/api", scope: "orders.read" }],
        [orders, { audience: "orders-api" }],
        [orders, { audience: "billing-api" }],
        [orders, { audience: "https://orders.example/api" }],
        [billing, {}],
        [billing, { scope: "orders.read" }],
        [billing, { resource: "https://orders.example/api" }]
      ]
      const first = yield* Effect.forEach(requests, ([c, r]) => tokenOf(c.source(r)))
      expect(new Set(first).size).toBe(requests.length)
      expect(server.requests()).toBe(requests.length)

      // Each token was issued in answer to its own source's request.
      requests.forEach(([c, r], i) => {
        const request = server.issuedFor(first[i]!)!
        const resources = r.resource === undefined ? [] : typeof r.resource === "string" ? [r.resource] : r.resource
        expect({
          client: request.headers.authorization,
          scope: request.form.getAll("scope"),
          resource: request.form.getAll("resource"),
          audience: request.form.getAll("audience")
        }).toEqual({
          client: c === orders ? basic : `Basic ${Buffer.from("billing:billing-secret").toString("base64")}`,
          scope: r.scope === undefined ? [] : [r.scope],
          resource: resources,
          audience: r.audience === undefined ? [] : [r.audience]
        })
      })

      // While valid, the same request gets the same token without asking the endpoint; through a new source() too.
      yield* TestClock.adjust("10 minutes")
      const again = yield* Effect.forEach(requests, ([c, r]) => tokenOf(c.source({ ...r })))
      expect(again).toEqual(first)
      yield* quiet
      expect(server.requests()).toBe(requests.length)
    })))

  it.scoped("the same request gives the same source: resources in any order, one resource or a list of it", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server)
      const a = "https://orders.example/api"
      const b = "https://billing.example/api"
      const both = credentials.source({ resource: [a, b], scope: "s" })
      expect(credentials.source({ resource: [b, a], scope: "s" })).toBe(both)
      expect(credentials.source({ scope: "s", resource: [a, b] })).toBe(both)
      expect(credentials.source({ resource: a })).toBe(credentials.source({ resource: [a] }))
      expect(credentials.source()).toBe(credentials.source({}))
      // Not the same request: not the same source.
      expect(credentials.source({ resource: [a, b] })).not.toBe(both)
      expect(credentials.source({ resource: a })).not.toBe(credentials.source({ audience: a }))
      expect(credentials.source({ scope: "s" })).not.toBe(credentials.source({ audience: "s" }))

      const token = yield* tokenOf(both)
      expect(yield* tokenOf(credentials.source({ resource: [b, a], scope: "s" }))).toBe(token)
      expect(server.requests()).toBe(1)
    })))
})

// --- single flight -----------------------------------------------------------------------

describe("ClientCredentials: concurrent first callers", () => {
  it.scoped("10,000 concurrent callers at start-up cause exactly one token request", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      // A little latency, so every caller arrives while the request is in flight.
      server.behave({ _tag: "Slow", delayMs: 50, then: { _tag: "Issue" } })
      const source = (yield* client(server)).source({ scope: "orders.read" })
      const tokens = yield* Effect.all(Array.from({ length: 10_000 }, () => tokenOf(source)), {
        concurrency: "unbounded"
      })
      yield* quiet
      expect(server.requests()).toBe(1)
      expect(new Set(tokens)).toEqual(new Set([server.issued()[0]]))
      // And later callers are served from the cache.
      yield* Effect.all(Array.from({ length: 1_000 }, () => tokenOf(source)), { concurrency: "unbounded" })
      expect(server.requests()).toBe(1)
    })))

  it.scoped("concurrent callers share a failure too; a failure is not cached: the next caller asks again", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.behave({ _tag: "Slow", delayMs: 50, then: { _tag: "Status", status: 503 } })
      const source = (yield* client(server)).source()
      const exits = yield* Effect.all(Array.from({ length: 1_000 }, () => Effect.exit(source.token)), {
        concurrency: "unbounded"
      })
      expect(server.requests()).toBe(1)
      expect(new Set(exits.map((exit) => errorOf(exit).reason))).toEqual(new Set(["refused"]))
      server.issue()
      expect(yield* tokenOf(source)).toBe(server.issued()[0])
      expect(server.requests()).toBe(2)
    })))

  it.scoped("concurrent first callers of different sources get one request each", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.behave({ _tag: "Slow", delayMs: 30, then: { _tag: "Issue" } })
      const credentials = yield* client(server)
      const scopes = ["a", "b", "c"]
      const tokens = yield* Effect.all(
        Array.from({ length: 3_000 }, (_, i) => tokenOf(credentials.source({ scope: scopes[i % 3]! }))),
        { concurrency: "unbounded" }
      )
      expect(server.requests()).toBe(3)
      expect(new Set(tokens).size).toBe(3)
      expect(server.received().map((r) => r.form.get("scope")).sort()).toEqual(scopes)
    })))
})

// --- refresh ahead of expiry ------------------------------------------------------------

describe("ClientCredentials: refresh ahead of expiry", () => {
  interface RefreshCase {
    readonly name: string
    /** `null`: the endpoint gives no expires_in. */
    readonly expiresIn: number | null
    readonly options?: Partial<ClientCredentials.Options>
    /** Seconds after issue at which the refresh request is made. */
    readonly refreshAt: number
  }
  const cases: ReadonlyArray<RefreshCase> = [
    { name: "20% of the lifetime (120 s) is more than 60 s", expiresIn: 600, refreshAt: 480 },
    { name: "20% of an hour is 720 s", expiresIn: 3600, refreshAt: 2880 },
    { name: "60 s is more than 20% of the lifetime (40 s)", expiresIn: 200, refreshAt: 140 },
    { name: "never before half the lifetime (60 s ahead would be 40 s)", expiresIn: 100, refreshAt: 50 },
    { name: "a 2 s token at half its lifetime", expiresIn: 2, refreshAt: 1 },
    { name: "no expires_in: the default lifetime of 5 minutes", expiresIn: null, refreshAt: 240 },
    {
      name: "defaultLifetime applies when there is no expires_in",
      expiresIn: null,
      options: { defaultLifetime: "1 hour" },
      refreshAt: 2880
    },
    {
      name: "refreshAhead 15 minutes is more than 20% (12 minutes)",
      expiresIn: 3600,
      options: { refreshAhead: "15 minutes" },
      refreshAt: 2700
    },
    {
      name: "refreshFraction 0.4",
      expiresIn: 3600,
      options: { refreshFraction: 0.4 },
      refreshAt: 2160
    }
  ]

  it.scoped("a lifetime too short to honour does not make the refresh spin: at most one refresh a second", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 0.001 })
      const source = (yield* client(server, patient)).source({ scope: "orders.read" })
      yield* tokenOf(source)
      yield* adjustTo(999)
      yield* quiet
      expect(server.requests()).toBe(1)
      yield* adjustTo(1000)
      yield* eventually("the refresh", Effect.sync(() => server.requests() === 2))
      yield* adjustTo(1999)
      yield* quiet
      expect(server.requests()).toBe(2)
    })))

  for (const c of cases) {
    it.scoped(`expires_in ${c.expiresIn ?? "absent"}: refresh at ${c.refreshAt} s (${c.name}), then again from there`, () =>
      withHttp(Effect.gen(function*() {
        const server = yield* TokenServer
        server.issue({ expiresIn: c.expiresIn })
        const source = (yield* client(server, { ...patient, ...c.options })).source({ scope: "orders.read" })
        const first = yield* tokenOf(source)
        const at = c.refreshAt * 1000

        for (let cycle = 1; cycle <= 2; cycle++) {
          const issuedAt = (cycle - 1) * at
          const token = cycle === 1 ? first : server.issued()[cycle - 1]!
          yield* scheduledAt(issuedAt + at)
          // A millisecond before the refresh point: no request, and callers get the current token.
          yield* adjustTo(issuedAt + at - 1)
          yield* quiet
          expect(server.requests()).toBe(cycle)
          expect(yield* tokenOf(source)).toBe(token)
          expect(server.requests()).toBe(cycle)
          // At the refresh point: one request, and callers get the new token from then on.
          yield* adjustTo(issuedAt + at)
          yield* eventually("the refresh", Effect.map(tokenOf(source), (t) => t !== token))
          expect(server.requests()).toBe(cycle + 1)
          expect(yield* tokenOf(source)).toBe(server.issued()[cycle])
        }
        yield* quiet
        expect(server.requests()).toBe(3)
      })))
  }

  it.scoped("the refresh happens without any caller, and before expiry: a caller never needs to wait", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 600 })
      const source = (yield* client(server, patient)).source()
      const first = yield* tokenOf(source)
      yield* scheduledAt(480_000)
      yield* TestClock.adjust("470 seconds")
      yield* quiet
      expect(server.requests()).toBe(1)
      yield* TestClock.adjust("11 seconds") // t = 481 s
      yield* eventually("the refresh", () => server.requests() === 2)
      yield* scheduledAt(960_000)
      // The server is now slow: the token obtained at 480 s serves at once.
      server.behave({ _tag: "Hang" })
      const second = yield* tokenOf(source)
      expect(second).not.toBe(first)
      expect(second).toBe(server.issued()[1])
      expect(server.requests()).toBe(2)
    })))
})

// --- retries ------------------------------------------------------------------------------

describe("ClientCredentials: when refreshing fails", () => {
  /**
   * Follows the refresh fiber through failing retries: each retry is due
   * within [backoff/2, backoff) of the failure before it, where backoff is
   * min(max, base * 2^attempt); nothing happens a millisecond before it, one
   * request at it. Meanwhile the current token keeps serving. Returns the delays.
   */
  const followRetries = (
    server: TokenServer,
    source: TokenSource.TokenSource,
    current: string,
    backoffs: ReadonlyArray<number>
  ) =>
    Effect.gen(function*() {
      const delays: Array<number> = []
      for (const backoff of backoffs) {
        const start = yield* now
        const due = yield* scheduledIn(start + backoff / 2, start + backoff)
        delays.push(due - start)
        const before = server.requests()
        yield* TestClock.adjust(Duration.millis(due - start - 1))
        yield* quiet
        expect(server.requests()).toBe(before)
        expect(yield* tokenOf(source)).toBe(current)
        expect(server.requests()).toBe(before)
        yield* TestClock.adjust(Duration.millis(1))
        yield* eventually(`retry ${delays.length}`, () => server.requests() === before + 1)
      }
      return delays
    })

  it.scoped("retries back off exponentially with jitter up to retryMax (defaults 1 s and 1 minute); the current token serves throughout; the recovered endpoint's token is used", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const source = (yield* client(server, patient)).source({ scope: "orders.read" })
      const first = yield* tokenOf(source)
      yield* scheduledAt(2_880_000)
      server.behave({ _tag: "Status", status: 503 })
      yield* TestClock.adjust("2880 seconds")
      yield* eventually("the refresh", () => server.requests() === 2)

      const backoffs = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
      const delays = yield* followRetries(server, source, first, backoffs)
      // The uncapped delays lie in disjoint ranges, so they grow; every one is jittered below its backoff.
      expect(delays.slice(0, 6)).toEqual([...delays.slice(0, 6)].sort((x, y) => x - y))
      expect(delays.every((d, i) => d >= backoffs[i]! / 2 && d < backoffs[i]!)).toBe(true)
      expect(new Set(delays.map((d, i) => (d / backoffs[i]!).toFixed(6))).size).toBeGreaterThan(1)
      expect(server.requests()).toBe(2 + backoffs.length)

      // The endpoint recovers: the next retry gets a new token, which callers get from then on.
      server.issue()
      const start = yield* now
      const due = yield* scheduledIn(start + 30_000, start + 60_000)
      yield* TestClock.adjust(Duration.millis(due - start))
      yield* eventually("the successful retry", Effect.map(tokenOf(source), (t) => t !== first))
      const recovered = yield* tokenOf(source)
      expect(recovered).toBe(server.issued()[1])
      expect(server.requests()).toBe(3 + backoffs.length)
      // Back to the normal cycle: the next refresh is 2880 s after the new token, and no retry is pending.
      yield* scheduledAt(due + 2_880_000)
      const pending = yield* TestClock.sleeps()
      expect(Chunk.toReadonlyArray(pending).filter((at) => at > due && at < due + 2_880_000 - 0.001)).toEqual([])
      yield* TestClock.adjust("2879 seconds")
      yield* quiet
      expect(server.requests()).toBe(3 + backoffs.length)
    })))

  it.scoped("retryBase and retryMax are honoured", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 600 })
      const source = (yield* client(server, { ...patient, retryBase: "200 millis", retryMax: "1 second" })).source()
      const first = yield* tokenOf(source)
      yield* scheduledAt(480_000)
      server.behave({ _tag: "OAuthError", status: 500, error: "server_error" })
      yield* TestClock.adjust("480 seconds")
      yield* eventually("the refresh", () => server.requests() === 2)
      const backoffs = [200, 400, 800, 1_000, 1_000, 1_000]
      yield* followRetries(server, source, first, backoffs)
      expect(server.requests()).toBe(2 + backoffs.length)
    })))

  it.scoped("when the token expires while the endpoint still fails, callers get a TokenError, never the expired token", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 600 })
      const source = (yield* client(server, patient)).source({ resource: "https://orders.example/api" })
      const first = yield* tokenOf(source)
      yield* scheduledAt(480_000)
      server.behave({ _tag: "Status", status: 503 })
      yield* TestClock.adjust("480 seconds")
      yield* eventually("the refresh", () => server.requests() === 2)

      // Still valid a millisecond before expiry: the old token serves, and the caller does not ask the endpoint.
      yield* adjustTo(599_999)
      const before = server.requests()
      expect(yield* tokenOf(source)).toBe(first)
      expect(server.requests()).toBe(before)

      // At expiry: a typed error, not the token.
      yield* adjustTo(600_000)
      const expired = errorOf(yield* Effect.exit(source.token))
      expect(expired).toBeInstanceOf(TokenSource.TokenError)
      expect(expired).toMatchObject({
        _tag: "TokenError",
        reason: "refused",
        error: null,
        description: "the token endpoint answered HTTP 503",
        source: "orders:eu https://orders.example/api"
      })
      // The OAuth error code, when the endpoint gives one.
      server.behave({ _tag: "OAuthError", status: 401, error: "invalid_client", description: "unknown client" })
      yield* TestClock.adjust("1 minute")
      const refused = errorOf(yield* Effect.exit(source.token))
      expect(refused).toMatchObject({ reason: "refused", error: "invalid_client" })
      expectNoSecret([...renderings(expired), ...renderings(refused)], server)

      // Recovery: the next caller gets a new token.
      server.issue({ expiresIn: 600 })
      const recovered = yield* tokenOf(source)
      expect(recovered).not.toBe(first)
      expect(server.issued()).toContain(recovered)
    })))
})

// --- faults at the first fetch ---------------------------------------------------------------

interface Fault {
  readonly name: string
  /** What the endpoint does; `elsewhere` is a second endpoint a redirect may point to. */
  readonly behaviour: (elsewhere: TokenServer) => Behaviour | "down"
  readonly reason: TokenSource.TokenError["reason"]
  readonly error?: string | null
  readonly description?: string
}

const tokenBody = (body: Record<string, unknown>): Behaviour => ({ _tag: "Json", status: 200, body })

const faults: ReadonlyArray<Fault> = [
  {
    name: "down (connection refused)",
    behaviour: () => "down",
    reason: "unreachable",
    description: "the token endpoint could not be reached"
  },
  {
    name: "HTTP 500 with a text body",
    behaviour: () => ({ _tag: "Status", status: 500 }),
    reason: "refused",
    error: null,
    description: "the token endpoint answered HTTP 500"
  },
  {
    name: "HTTP 503 with a text body",
    behaviour: () => ({ _tag: "Status", status: 503 }),
    reason: "refused",
    error: null,
    description: "the token endpoint answered HTTP 503"
  },
  {
    name: "HTTP 503 with an OAuth error",
    behaviour: () => ({ _tag: "OAuthError", status: 503, error: "temporarily_unavailable" }),
    reason: "refused",
    error: "temporarily_unavailable"
  },
  {
    name: "HTTP 401 invalid_client (its description echoing the secret)",
    behaviour: () => ({
      _tag: "OAuthError",
      status: 401,
      error: "invalid_client",
      description: `client secret ${clientSecret} does not match`
    }),
    reason: "refused",
    error: "invalid_client",
    description: "the token endpoint answered HTTP 401"
  },
  {
    name: "HTTP 400 invalid_scope",
    behaviour: () => ({ _tag: "OAuthError", status: 400, error: "invalid_scope", description: "no such scope" }),
    reason: "refused",
    error: "invalid_scope"
  },
  {
    name: "HTTP 400 with an error code outside the RFC 6749 character set",
    behaviour: () => ({ _tag: "OAuthError", status: 400, error: "bad\"code\n<script>" }),
    reason: "refused",
    error: null
  },
  {
    name: "HTTP 400 with an overlong error code",
    behaviour: () => ({ _tag: "OAuthError", status: 400, error: "x".repeat(65) }),
    reason: "refused",
    error: null
  },
  {
    name: "a 200 that is not JSON",
    behaviour: () => ({ _tag: "Garbage", text: "<html>maintenance</html>" }),
    reason: "invalid_response",
    description: "the token endpoint's answer is not JSON"
  },
  {
    name: "a 200 with a JSON array",
    behaviour: () => ({ _tag: "Garbage", text: "[]" }),
    reason: "invalid_response",
    description: "the token response is malformed"
  },
  {
    name: "a 200 with token_type mac",
    behaviour: () => ({ _tag: "Issue", tokenType: "mac" }),
    reason: "invalid_response",
    description: "the token endpoint issued a token that is not a Bearer token"
  },
  {
    name: "a 200 with token_type DPoP",
    behaviour: () => ({ _tag: "Issue", tokenType: "DPoP" }),
    reason: "invalid_response"
  },
  {
    name: "a 200 without access_token",
    behaviour: () => tokenBody({ token_type: "Bearer", expires_in: 3600 }),
    reason: "invalid_response",
    description: "the token response is malformed"
  },
  {
    name: "a 200 with an empty access_token",
    behaviour: () => tokenBody({ access_token: "", token_type: "Bearer", expires_in: 3600 }),
    reason: "invalid_response"
  },
  {
    name: "a 200 without token_type",
    behaviour: () => tokenBody({ access_token: "at-no-type-1f2e3d", expires_in: 3600 }),
    reason: "invalid_response"
  },
  {
    name: "a 200 with expires_in 0",
    behaviour: () => tokenBody({ access_token: "at-zero-4c5b6a", token_type: "Bearer", expires_in: 0 }),
    reason: "invalid_response"
  },
  {
    name: "a 200 with a negative expires_in",
    behaviour: () => ({ _tag: "Issue", expiresIn: -5 }),
    reason: "invalid_response"
  },
  {
    name: "a 200 with an access_token over 16 KiB",
    behaviour: () => tokenBody({ access_token: "a".repeat(16 * 1024 + 1), token_type: "Bearer" }),
    reason: "invalid_response"
  },
  ...[301, 302, 303, 307, 308].map((status): Fault => ({
    name: `a ${status} redirect to another token endpoint`,
    behaviour: (elsewhere) => ({ _tag: "Redirect", status, location: elsewhere.url }),
    reason: "redirect",
    description: "the token endpoint answered with a redirect"
  })),
  {
    name: "an answer over 64 KiB",
    behaviour: () => ({ _tag: "Oversized", bytes: 100 * 1024 }),
    reason: "too_large",
    description: "the token endpoint's answer is too large"
  }
]

describe("ClientCredentials: when the first fetch fails", () => {
  for (const fault of faults) {
    it.scoped(`${fault.name}: TokenError ${fault.reason}, no secret in it; the next caller asks again`, () =>
      withHttp(Effect.gen(function*() {
        const serverScope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(serverScope, Exit.void))
        const server = yield* Scope.extend(TokenServer, serverScope)
        const elsewhere = yield* TokenServer
        const behaviour = fault.behaviour(elsewhere)
        if (behaviour === "down") yield* server.down
        else server.behave(behaviour)

        const source = (yield* client(server)).source({ resource: "https://orders.example/api" })
        const exit = yield* Effect.exit(source.token)
        const error = errorOf(exit)
        expect(error).toBeInstanceOf(TokenSource.TokenError)
        expect(error.reason).toBe(fault.reason)
        expect(error.source).toBe("orders:eu https://orders.example/api")
        if (fault.error !== undefined) expect(error.error).toBe(fault.error)
        else if (fault.reason !== "refused") expect(error.error).toBeNull()
        if (fault.description !== undefined) expect(error.description).toBe(fault.description)
        expect(error.message).toBe(
          `${error.source}: ${error.reason}${error.error === null ? "" : ` (${error.error})`}: ${error.description}`
        )
        expect(elsewhere.requests()).toBe(0)
        // Nor anything of the answer: its tokens, its error description.
        expectNoSecret(renderings(error), server, [
          "a".repeat(64),
          "does not match",
          "at-no-type-1f2e3d",
          "at-zero-4c5b6a"
        ])

        if (behaviour !== "down") {
          expect(server.requests()).toBe(1)
          // Failures are not cached: the next caller asks again, and gets a token once the endpoint works.
          expect(errorOf(yield* Effect.exit(source.token)).reason).toBe(fault.reason)
          expect(server.requests()).toBe(2)
          server.issue()
          expect(yield* tokenOf(source)).toBe(server.issued().at(-1))
          expect(server.requests()).toBe(3)
        }
        expect(elsewhere.requests()).toBe(0)
      })))
  }

  it.scoped("token_type is compared case-insensitively (RFC 6749 §5.1): bearer and BEARER are Bearer", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const credentials = yield* client(server)
      server.issue({ tokenType: "bearer", scope: "orders.read" })
      const lower = yield* credentials.source({ scope: "orders.read" }).token
      expect(valueOf(lower)).toBe(server.issued()[0])
      expect(lower.scope).toBe("orders.read")
      server.issue({ tokenType: "BEARER" })
      expect(yield* tokenOf(credentials.source({ scope: "other" }))).toBe(server.issued()[1])
    })))

  it.scopedLive("slower than the timeout: TokenError timeout, at the timeout", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.behave({ _tag: "Slow", delayMs: 5_000, then: { _tag: "Issue" } })
      const source = (yield* client(server, { timeout: "200 millis" })).source()
      const started = Date.now()
      const error = errorOf(yield* Effect.exit(source.token))
      const elapsed = Date.now() - started
      expect(error).toMatchObject({
        reason: "timeout",
        error: null,
        description: "the token endpoint did not answer in time"
      })
      expect(elapsed).toBeGreaterThanOrEqual(190)
      expect(elapsed).toBeLessThan(2_000)
      expect(server.requests()).toBe(1)
      expectNoSecret(renderings(error), server)
    })))

  it.scopedLive("a hanging endpoint: TokenError timeout; slow within the timeout is fine", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.behave({ _tag: "Hang" })
      const credentials = yield* client(server, { timeout: "200 millis" })
      expect(errorOf(yield* Effect.exit(credentials.source().token)).reason).toBe("timeout")
      server.behave({ _tag: "Slow", delayMs: 50, then: { _tag: "Issue" } })
      expect(yield* tokenOf(credentials.source())).toBe(server.issued()[0])
    })))

  it.scoped("an http URL that is not loopback fails at make with insecure_url, and nothing is asked", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      const attempt = (tokenEndpoint: string, allowInsecureLoopback: boolean) =>
        Effect.flip(ClientCredentials.make({ ...options(server), tokenEndpoint, allowInsecureLoopback }))
      for (
        const [url, allow] of [
          ["http://auth.example/oauth2/token", true],
          ["http://auth.example/oauth2/token", false],
          ["http://10.0.0.1/oauth2/token", true],
          ["http://127.0.0.1.evil.example/oauth2/token", true],
          [server.url, false],
          ["ftp://127.0.0.1/token", true],
          ["not a url", true]
        ] as const
      ) {
        const error = yield* attempt(url, allow)
        expect([url, allow, error.reason, error.error]).toEqual([url, allow, "insecure_url", null])
        expect(error.source).toBe(clientId)
        expectNoSecret(renderings(error), server)
      }
      expect(server.requests()).toBe(0)
      // https is fine at make (nothing is asked until a token is wanted).
      yield* ClientCredentials.make({ ...options(server), tokenEndpoint: "https://auth.example/oauth2/token" })
    })))
})

// --- secrets ---------------------------------------------------------------------------------

/** A tracer that keeps every span it makes, through the default tracer. */
const recordingTracer = (spans: Array<Tracer.Span>) =>
  Effect.map(Effect.tracer, (inner) =>
    Tracer.make({
      span: (name, parent, context, links, startTime, kind, spanOptions) => {
        const span = inner.span(name, parent, context, links, startTime, kind, spanOptions)
        spans.push(span)
        return span
      },
      context: (f, fiber) => inner.context(f, fiber)
    }))

const spanTexts = (span: Tracer.Span): ReadonlyArray<string> => [
  span.name,
  ...[...span.attributes].map(([k, v]) => `${k}=${String(v)}`),
  ...(span.status._tag === "Ended" && Exit.isFailure(span.status.exit) ? [Cause.pretty(span.status.exit.cause)] : [])
]

describe("ClientCredentials: secrets never leak", () => {
  for (const method of ["client_secret_basic", "client_secret_post"] as const) {
    it.scoped(`${method}: through a failing refresh cycle, no secret or token in logs (every level), spans or errors`, () =>
      withHttp(Effect.gen(function*() {
        const server = yield* TokenServer
        server.issue({ expiresIn: 600 })
        const lines: Array<string> = []
        const spans: Array<Tracer.Span> = []
        const tracer = yield* recordingTracer(spans)
        const capture = Logger.make(({ annotations, cause, logLevel, message }) => {
          lines.push(
            [
              logLevel.label,
              inspect(message, { depth: 10 }),
              inspect(HashMap.toEntries(annotations), { depth: 10 }),
              Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
            ].join(" ")
          )
        })
        const errors: Array<TokenSource.TokenError> = []

        yield* Effect.gen(function*() {
          yield* Effect.logDebug("capture works")
          const credentials = yield* client(server, { ...patient, method })
          const source = credentials.source({ scope: "orders.read" })
          const other = credentials.source({ scope: "orders.write" })
          const first = yield* source.token
          // An access token is Redacted however it is rendered.
          expect([JSON.stringify(first), String(first.value), inspect(first)].join(" ")).not.toContain(valueOf(first))

          yield* scheduledAt(480_000)
          // The refresh is refused with a description echoing the secret, then issues a token that is not Bearer.
          server.behave({
            _tag: "OAuthError",
            status: 401,
            error: "invalid_client",
            description: `client secret ${clientSecret} (basic ${basic}) is wrong`
          })
          yield* TestClock.adjust("480 seconds")
          yield* eventually("the refresh", () => server.requests() === 2)
          yield* scheduledIn(480_500, 481_000)
          server.issue({ tokenType: "mac" })
          yield* TestClock.adjust("1 second")
          yield* eventually("the first retry", () => server.requests() === 3)
          server.behave({ _tag: "Oversized", bytes: 100 * 1024 })
          errors.push(errorOf(yield* Effect.exit(other.token)))
          server.behave({ _tag: "Garbage", text: `{"access_token":"${clientSecret}"` })
          errors.push(errorOf(yield* Effect.exit(other.token)))
          server.behave({ _tag: "Status", status: 502, text: `bad gateway ${clientSecret}` })
          // Past expiry: callers get errors.
          yield* TestClock.adjust("2 minutes")
          errors.push(errorOf(yield* Effect.exit(source.token)))
          server.behave({ _tag: "OAuthError", status: 401, error: "invalid_client", description: clientSecret })
          errors.push(errorOf(yield* Effect.exit(source.token)))
          yield* TestClock.adjust("5 minutes")
          yield* quiet
          // The endpoint recovers.
          server.issue({ expiresIn: 600 })
          expect(server.issued()).toContain(yield* tokenOf(source))
          expect(server.issued()).toContain(yield* tokenOf(other))
          yield* quiet
        }).pipe(
          Effect.withTracer(tracer),
          Effect.provide(Layer.merge(Logger.add(capture), Logger.minimumLogLevel(LogLevel.All)))
        )

        expect(errors.map((e) => e.reason)).toEqual(["too_large", "invalid_response", "refused", "refused"])
        expect(lines.some((line) => line.includes("capture works"))).toBe(true)
        // The tracer saw the token requests of callers and of the refresh fiber alike.
        const requestSpans = spans.filter((s) => s.name === "warden.oauth.client_credentials")
        expect(requestSpans.length).toBe(server.requests())
        expect(requestSpans.every((s) => s.attributes.get("oauth.client_id") === clientId)).toBe(true)
        expect(spans.some((s) => s.name.startsWith("http.client"))).toBe(true)

        expect(server.issued().length).toBeGreaterThanOrEqual(5)
        expectNoSecret(
          [...lines, ...spans.flatMap(spanTexts), ...errors.flatMap(renderings)],
          server
        )
      })))
  }
})

// --- the refresh fiber's scope ---------------------------------------------------------------

describe("ClientCredentials: the refresh fiber", () => {
  it.scoped("stops when the client's scope closes; while it is open, it refreshes", () =>
    withHttp(Effect.gen(function*() {
      const open = yield* TokenServer
      const closed = yield* TokenServer
      open.issue({ expiresIn: 600 })
      closed.issue({ expiresIn: 600 })

      const openScope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(openScope, Exit.void))
      const closedScope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(closedScope, Exit.void))
      const kept = yield* Scope.extend(client(open, patient), openScope)
      const dropped = yield* Scope.extend(client(closed, patient), closedScope)
      // Tracks every fiber the dropped client starts.
      const tracker = yield* Supervisor.track
      yield* kept.source().token
      yield* Effect.supervised(dropped.source().token, tracker)
      // Both refresh fibers are waiting for 480 s.
      yield* eventually(
        "both refresh fibers to sleep",
        Effect.map(TestClock.sleeps(), (s) => Chunk.toReadonlyArray(s).filter((at) => at === 480_000).length === 2)
      )
      expect((yield* tracker.value).length).toBe(1)

      yield* Scope.close(closedScope, Exit.void)
      // Its refresh fiber is gone, not merely idle.
      yield* eventually(
        "the dropped client's fibers to end",
        Effect.map(tracker.value, (fibers) => fibers.length === 0)
      )
      for (let cycle = 1; cycle <= 4; cycle++) {
        yield* scheduledAt(cycle * 480_000)
        yield* adjustTo(cycle * 480_000)
        yield* eventually(`refresh ${cycle} of the open client`, () => open.requests() === cycle + 1)
      }
      // Several lifetimes later.
      yield* TestClock.adjust("1 hour")
      yield* eventually("the open client's refreshes", () => open.requests() >= 6)
      yield* quiet
      expect(closed.requests()).toBe(1)
    })))

  it.scoped("the layer's refresh fibers stop when the layer is released", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 600 })
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const credentials = yield* Effect.flatMap(
        Layer.buildWithScope(ClientCredentials.layer(options(server, patient)), scope),
        (context) => Effect.provide(ClientCredentials.Client, context)
      )
      yield* credentials.source({ scope: "a" }).token
      yield* credentials.source({ scope: "b" }).token
      yield* scheduledAt(480_000)
      yield* TestClock.adjust("480 seconds")
      yield* eventually("the refreshes", () => server.requests() === 4)
      yield* scheduledAt(960_000)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("2 hours")
      yield* quiet
      expect(server.requests()).toBe(4)
    })))
})

// --- metrics -----------------------------------------------------------------------------------

describe("ClientCredentials: metrics", () => {
  const refreshes = (outcome: string) =>
    Metric.value(Metric.tagged(ClientCredentials.metrics.refreshes, "outcome", outcome)).pipe(
      Effect.map((state) => state.count)
    )
  const snapshot = Effect.all({
    ok: refreshes("ok"),
    refused: refreshes("refused"),
    invalid_response: refreshes("invalid_response"),
    too_large: refreshes("too_large")
  })

  it.scoped("warden_token_refreshes_total counts token requests by outcome, refreshes included", () =>
    withHttp(Effect.gen(function*() {
      const server = yield* TokenServer
      server.issue({ expiresIn: 600 })
      const start = yield* snapshot
      const credentials = yield* client(server, patient)
      const source = credentials.source()
      yield* source.token
      yield* Effect.all(Array.from({ length: 100 }, () => source.token), { concurrency: "unbounded" })
      yield* scheduledAt(480_000)
      yield* TestClock.adjust("480 seconds")
      yield* eventually("the refresh", () => server.requests() === 2)
      yield* scheduledAt(960_000)
      server.behave({ _tag: "Status", status: 503 })
      yield* Effect.exit(credentials.source({ scope: "x" }).token)
      server.behave({ _tag: "Garbage", text: "nope" })
      yield* Effect.exit(credentials.source({ scope: "x" }).token)
      server.behave({ _tag: "Oversized", bytes: 100 * 1024 })
      yield* Effect.exit(credentials.source({ scope: "x" }).token)
      const end = yield* snapshot
      expect({
        ok: end.ok - start.ok,
        refused: end.refused - start.refused,
        invalid_response: end.invalid_response - start.invalid_response,
        too_large: end.too_large - start.too_large
      }).toEqual({ ok: 2, refused: 1, invalid_response: 1, too_large: 1 })
    })))
})
