/**
 * Introspection against a loopback endpoint whose answers the test sets:
 * what is cached for how long, and how it fails closed.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Introspection } from "@warden/oauth"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

interface Endpoint {
  readonly url: string
  answer: { readonly status: number; readonly body: string }
  readonly seen: Array<URLSearchParams>
}

const IntrospectionEndpoint: Effect.Effect<Endpoint, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ endpoint: Endpoint; close: () => Promise<void> }>((resume) => {
    const endpoint: Endpoint = { url: "", answer: { status: 200, body: "{\"active\":false}" }, seen: [] }
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      req.on("end", () => {
        endpoint.seen.push(new URLSearchParams(body))
        res.writeHead(endpoint.answer.status, { "content-type": "application/json" })
        res.end(endpoint.answer.body)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      ;(endpoint as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`
      resume(Effect.succeed({
        endpoint,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ endpoint }) => endpoint))

const active = (claims: Record<string, unknown>) => ({
  status: 200,
  body: JSON.stringify({ active: true, iss: "https://as", client_id: "web", sub: "alice", tid: "acme", ...claims })
})

const authenticator = (endpoint: Endpoint) =>
  Introspection.make({
    introspectionEndpoint: endpoint.url,
    clientId: "inventory",
    clientSecret: Redacted.make("inventory-secret"),
    allowInsecureLoopback: true,
    issuer: "https://as",
    audience: "inventory",
    maxCacheTtl: "60 seconds",
    inactiveCacheTtl: "10 seconds"
  })

const authenticate = (a: Effect.Effect.Success<ReturnType<typeof authenticator>>, token: string) =>
  a.authenticate({ _tag: "Bearer", token: Redacted.make(token) })

describe("Introspection", () => {
  it.scoped("asks with the token and the access_token hint, and maps the answer to a principal", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      endpoint.answer = active({ exp: 3600, scope: "orders.read", aud: ["inventory", "other"] })
      const principal = yield* authenticate(yield* authenticator(endpoint), "opaque-1")
      expect(principal).toMatchObject({ subject: "alice", tenant: "acme", authenticatedBy: "introspection" })
      expect(endpoint.seen.map((form) => [form.get("token"), form.get("token_type_hint")])).toEqual([
        ["opaque-1", "access_token"]
      ])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("an active answer is reused until the token's exp, and at most maxCacheTtl", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const a = yield* authenticator(endpoint)
      endpoint.answer = active({ exp: 30 })
      yield* authenticate(a, "short")
      yield* TestClock.adjust("29 seconds")
      yield* authenticate(a, "short")
      expect(endpoint.seen).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Effect.flip(authenticate(a, "short"))).toMatchObject({ reason: "expired" })
      endpoint.answer = active({ exp: 100_000 })
      yield* authenticate(a, "long")
      yield* TestClock.adjust("59 seconds")
      yield* authenticate(a, "long")
      const before = endpoint.seen.length
      yield* TestClock.adjust("1 second")
      yield* authenticate(a, "long")
      expect(endpoint.seen.length).toBe(before + 1)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("with a shared cache, a second instance takes the first one's answers, checked again and no longer-lived", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const cache = yield* Layer.build(Introspection.layerCacheMemory)
      const first = yield* Effect.provide(authenticator(endpoint), cache)
      const second = yield* Effect.provide(authenticator(endpoint), cache)
      endpoint.answer = active({ exp: 30, scope: "orders.read" })
      yield* authenticate(first, "shared")
      expect(yield* authenticate(second, "shared")).toMatchObject({ subject: "alice", tenant: "acme" })
      expect(endpoint.seen).toHaveLength(1)
      endpoint.answer = { status: 200, body: "{\"active\":false}" }
      expect(yield* Effect.flip(authenticate(first, "gone"))).toMatchObject({ reason: "inactive" })
      expect(yield* Effect.flip(authenticate(second, "gone"))).toMatchObject({ reason: "inactive" })
      expect(endpoint.seen).toHaveLength(2)
      // The shared entry ends with the token's exp: then the endpoint is asked again (and now says inactive).
      yield* TestClock.adjust("29 seconds")
      yield* authenticate(second, "shared")
      expect(endpoint.seen).toHaveLength(2)
      yield* TestClock.adjust("1 second")
      expect((yield* Effect.flip(authenticate(second, "shared"))).reason).toBe("inactive")
      expect(endpoint.seen).toHaveLength(3)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("a shared cache that cannot answer refuses as unavailable, without asking the endpoint", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      endpoint.answer = active({ exp: 3600 })
      const down = Layer.succeed(Introspection.IntrospectionCache, {
        get: () => Effect.fail(new Introspection.IntrospectionCacheUnavailable({ message: "down" })),
        set: () => Effect.fail(new Introspection.IntrospectionCacheUnavailable({ message: "down" }))
      })
      const a = yield* Effect.provide(authenticator(endpoint), down)
      expect(yield* Effect.flip(authenticate(a, "any"))).toMatchObject({ reason: "unavailable" })
      expect(endpoint.seen).toHaveLength(0)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("an inactive answer is reused briefly, then asked again", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const a = yield* authenticator(endpoint)
      expect(yield* Effect.flip(authenticate(a, "gone"))).toMatchObject({ reason: "inactive" })
      yield* TestClock.adjust("9 seconds")
      yield* Effect.flip(authenticate(a, "gone"))
      expect(endpoint.seen).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      yield* Effect.flip(authenticate(a, "gone"))
      expect(endpoint.seen).toHaveLength(2)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("the wrong issuer or audience is refused; so is an answer missing the tenant claim", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const a = yield* authenticator(endpoint)
      endpoint.answer = active({ iss: "https://evil" })
      expect(yield* Effect.flip(authenticate(a, "t1"))).toMatchObject({ reason: "issuer" })
      endpoint.answer = active({ aud: "billing" })
      expect(yield* Effect.flip(authenticate(a, "t2"))).toMatchObject({ reason: "audience" })
      endpoint.answer = active({ tid: undefined })
      expect(yield* Effect.flip(authenticate(a, "t3"))).toMatchObject({ reason: "claims" })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("when the endpoint cannot answer, authentication fails closed and nothing is cached", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const a = yield* authenticator(endpoint)
      for (
        const answer of [{ status: 500, body: "{}" }, { status: 200, body: "not json" }, { status: 200, body: "{}" }]
      ) {
        endpoint.answer = answer
        expect(yield* Effect.flip(authenticate(a, "t"))).toMatchObject({ reason: "unavailable" })
      }
      endpoint.answer = active({})
      expect((yield* authenticate(a, "t")).subject).toBe("alice")
      expect(endpoint.seen).toHaveLength(4)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("an oversized token is refused without asking", () =>
    Effect.gen(function*() {
      const endpoint = yield* IntrospectionEndpoint
      const a = yield* authenticator(endpoint)
      expect(yield* Effect.flip(authenticate(a, "x".repeat(9000)))).toMatchObject({ reason: "too_large" })
      expect(endpoint.seen).toHaveLength(0)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
