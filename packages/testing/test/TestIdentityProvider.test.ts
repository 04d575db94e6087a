/**
 * The provider as a verifier sees it: over real loopback HTTP, its JWKS,
 * its tokens, its rotations and outages, its token endpoint, and its end.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it, layer } from "@effect/vitest"
import type { Principal } from "@warden/core"
import { JwtVerifier, KeyStore } from "@warden/jwt"
import { ClientCredentials } from "@warden/oauth"
import { Arbitraries, TestIdentityProvider } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: await response.json() as unknown }
  })

const post = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers }
    })
    return {
      status: response.status,
      body: await response.json() as Record<string, unknown>,
      authenticate: response.headers.get("www-authenticate")
    }
  })

const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`
})

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

/** What a principal is, without what its token decides (issuer, token id, expiry, how it was authenticated). */
const identity = (p: Principal.Principal) => ({
  kind: p.kind,
  subject: p.subject,
  clientId: p.clientId,
  tenant: p.tenant,
  tenants: p.tenants,
  scopes: p.scopes.tokens,
  permissions: p.permissions
})

const Kit = TestIdentityProvider.layerVerifier().pipe(Layer.provideMerge(TestIdentityProvider.layer()))

layer(Kit)("TestIdentityProvider with its verifier", (it) => {
  it.effect("serves its published public keys on 127.0.0.1, and nothing private", () =>
    Effect.gen(function*() {
      const provider = yield* TestIdentityProvider.TestIdentityProvider
      expect(provider.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(provider.jwksUrl).toBe(`${provider.issuer}/jwks`)
      const { body, status } = yield* get(provider.jwksUrl)
      expect(status).toBe(200)
      const keys = (body as { keys: ReadonlyArray<Record<string, unknown>> }).keys
      expect(keys.map((k) => k["kid"])).toEqual(yield* provider.published)
      expect(keys.map((k) => k["kid"])).toContain(yield* provider.currentKid)
      for (const key of keys) {
        expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" })
        expect(Object.keys(key).filter((m) => ["d", "p", "q", "k"].includes(m))).toEqual([])
      }
      expect(keys.map((k) => k["kid"])).not.toContain(provider.foreignKey.kid)
    }))

  it.effect.prop(
    "a token it issues for any principal verifies back to that principal",
    [Arbitraries.principal()],
    ([principal]) =>
      Effect.gen(function*() {
        const provider = yield* TestIdentityProvider.TestIdentityProvider
        const verifier = yield* JwtVerifier.JwtVerifier
        const verified = yield* verifier.verify(yield* provider.issue(principal))
        expect(identity(verified)).toEqual(identity(principal))
        expect(verified).toMatchObject({ issuer: provider.issuer, authenticatedBy: "jwt" })
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("tokens carry the test's clock: they expire when the TestClock passes exp and the skew", () =>
    Effect.gen(function*() {
      const provider = yield* TestIdentityProvider.TestIdentityProvider
      const verifier = yield* JwtVerifier.JwtVerifier
      const token = yield* provider.sign({ sub: "alice", tid: "acme" }, { lifetime: "60 seconds" })
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      // exp is 60 seconds on; the verifier allows 30 seconds of skew, up to (not including) exp + 30.
      yield* TestClock.adjust("89 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
    }))
})

describe("TestIdentityProvider: keys", () => {
  it.scoped("rotation: the new key signs and verifies on first sight; the old one keeps verifying until retired", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Kit)
      const provider = yield* Effect.provide(TestIdentityProvider.TestIdentityProvider, context)
      const verifier = yield* Effect.provide(JwtVerifier.JwtVerifier, context)
      const keys = yield* Effect.provide(KeyStore.KeyStore, context)
      const first = yield* provider.currentKid
      const old = yield* provider.sign({ sub: "alice", tid: "acme" })

      const second = yield* provider.rotate
      expect(second).not.toBe(first)
      expect(yield* provider.currentKid).toBe(second)
      expect(yield* provider.published).toEqual([first, second])
      const fresh = yield* provider.sign({ sub: "alice", tid: "acme" })
      // An unknown kid makes the key store fetch at once (its first fetch is past the cooldown).
      yield* TestClock.adjust("30 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(fresh)))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(verifier.verify(old)))).toBe("ok")

      yield* provider.retire(first)
      expect(yield* provider.published).toEqual([second])
      yield* keys.refresh
      expect(reasonOf(yield* Effect.exit(verifier.verify(old)))).toBe("unknown_key")
      expect(reasonOf(yield* Effect.exit(verifier.verify(fresh)))).toBe("ok")
      // A retired key still signs when asked to by kid: the tokens a verifier must refuse.
      const retired = yield* provider.sign({ sub: "alice", tid: "acme" }, { kid: first })
      expect(reasonOf(yield* Effect.exit(verifier.verify(retired)))).toBe("unknown_key")
      expect(Option.map(yield* provider.key(first), (k) => k.kid)).toEqual(Option.some(first))
    }))

  it.scoped("an outage: the JWKS answers 503, the verifier serves its last keys for maxStale, then fails closed", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        TestIdentityProvider.layerVerifier({
          // No scheduled refresh within the test: every fetch below is one a verification asked for.
          keyStore: { maxStale: "10 minutes", cooldown: "1 second", refreshInterval: "1 day" }
        }).pipe(
          Layer.provideMerge(TestIdentityProvider.layer({ lifetime: "1 hour" }))
        )
      )
      const provider = yield* Effect.provide(TestIdentityProvider.TestIdentityProvider, context)
      const verifier = yield* Effect.provide(JwtVerifier.JwtVerifier, context)
      const token = yield* provider.sign({ sub: "alice", tid: "acme" })
      yield* provider.setJwksAvailable(false)
      expect((yield* get(provider.jwksUrl)).status).toBe(503)
      yield* TestClock.adjust("9 minutes")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      yield* TestClock.adjust("2 minutes")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("keys_unavailable")
      yield* provider.setJwksAvailable(true)
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      const { jwks } = yield* provider.requests
      // The first fetch, the 503 above, the one that found the set stale, the recovery.
      expect(jwks).toBe(4)
    }))

  it.scoped("everything stops with its scope: the port refuses connections afterwards", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const provider = yield* Scope.extend(TestIdentityProvider.make(), scope)
      expect((yield* get(provider.jwksUrl)).status).toBe(200)
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.promise(() => fetch(provider.jwksUrl).then(() => "answered", () => "refused"))
      expect(after).toBe("refused")
    }))
})

describe("TestIdentityProvider: the token endpoint", () => {
  const orders: TestIdentityProvider.Client = {
    clientId: "orders",
    clientSecret: Redacted.make("s3cret:/+ with spaces"),
    tenant: "acme",
    tenants: ["globex"],
    scope: "stock.read stock.reserve"
  }

  it.scoped("ClientCredentials gets an at+jwt that verifies as the service, with its tenants and scope", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        TestIdentityProvider.layerVerifier().pipe(Layer.provideMerge(TestIdentityProvider.layer({ clients: [orders] })))
      )
      const provider = yield* Effect.provide(TestIdentityProvider.TestIdentityProvider, context)
      const verifier = yield* Effect.provide(JwtVerifier.JwtVerifier, context)
      const client = yield* ClientCredentials.make({
        tokenEndpoint: provider.tokenEndpoint,
        clientId: orders.clientId,
        clientSecret: orders.clientSecret,
        allowInsecureLoopback: true
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const token = yield* client.source({ scope: "stock.read", resource: provider.audience }).token
      expect(token.scope).toBe("stock.read")
      const raw = Redacted.value(token.value)
      expect(JSON.parse(Buffer.from(raw.split(".")[0]!, "base64url").toString())).toMatchObject({ typ: "at+jwt" })
      const principal = yield* verifier.verify(raw)
      expect(identity(principal)).toEqual({
        kind: "service",
        subject: "orders",
        clientId: "orders",
        tenant: "acme",
        tenants: ["acme", "globex"],
        scopes: ["stock.read"],
        permissions: { allow: [], deny: [] }
      })
      const all = yield* client.source().token
      expect(all.scope).toBe("stock.read stock.reserve")
      expect((yield* provider.requests).token).toBe(2)
    }))

  it.scoped("refuses what RFC 6749 says to refuse, and answers only client_secret_basic", () =>
    Effect.gen(function*() {
      const provider = yield* TestIdentityProvider.make({ clients: [orders] })
      yield* provider.register({ clientId: "billing", clientSecret: Redacted.make("b"), tenant: "initech" })
      const secret = Redacted.value(orders.clientSecret)
      const grant = "grant_type=client_credentials"
      const cases = [
        ["no client authentication", grant, {}],
        ["client_secret_post", `${grant}&client_id=orders&client_secret=${encodeURIComponent(secret)}`, {}],
        ["a wrong secret", grant, basic("orders", "wrong")],
        ["an unknown client", grant, basic("nobody", secret)],
        ["Basic and a form secret", `${grant}&client_secret=x`, basic("orders", secret)],
        ["another grant type", "grant_type=password", basic("orders", secret)],
        ["a scope beyond the client's", `${grant}&scope=stock.read%20admin`, basic("orders", secret)],
        ["a malformed scope", `${grant}&scope=stock.read%20%20x`, basic("orders", secret)],
        ["another resource", `${grant}&resource=https%3A%2F%2Felsewhere.test`, basic("orders", secret)],
        ["a repeated parameter", `${grant}&scope=stock.read&scope=stock.read`, basic("orders", secret)]
      ] as const
      const answers: Array<readonly [string, number, unknown]> = []
      for (const [label, body, headers] of cases) {
        const answer = yield* post(provider.tokenEndpoint, body, headers)
        answers.push([label, answer.status, answer.body["error"]])
        if (answer.status === 401) expect(answer.authenticate).toMatch(/^Basic /)
        expect(JSON.stringify(answer.body)).not.toContain(secret)
      }
      expect(answers).toEqual([
        ["no client authentication", 401, "invalid_client"],
        ["client_secret_post", 401, "invalid_client"],
        ["a wrong secret", 401, "invalid_client"],
        ["an unknown client", 401, "invalid_client"],
        ["Basic and a form secret", 400, "invalid_request"],
        ["another grant type", 400, "unsupported_grant_type"],
        ["a scope beyond the client's", 400, "invalid_scope"],
        ["a malformed scope", 400, "invalid_scope"],
        ["another resource", 400, "invalid_target"],
        ["a repeated parameter", 400, "invalid_request"]
      ])
      const billing = yield* post(provider.tokenEndpoint, grant, basic("billing", "b"))
      expect(billing.status).toBe(200)
      expect(billing.body).toMatchObject({ token_type: "Bearer", expires_in: 300 })
      expect(billing.body).not.toHaveProperty("scope")
    }))
})

describe("TestIdentityProvider: the clock", () => {
  it.scoped("the token endpoint stamps tokens with the clock of the fiber that built it (here the TestClock)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const provider = yield* TestIdentityProvider.make({
        clients: [{ clientId: "c", clientSecret: Redacted.make("s"), tenant: "acme" }]
      })
      yield* TestClock.adjust("5 minutes")
      const answer = yield* post(provider.tokenEndpoint, "grant_type=client_credentials", basic("c", "s"))
      const claims = JSON.parse(
        Buffer.from(String(answer.body["access_token"]).split(".")[1]!, "base64url").toString()
      ) as Record<string, unknown>
      expect(claims).toMatchObject({ iat: 1_700_000_300, exp: 1_700_000_600, tid: "acme", iss: provider.issuer })
    }))
})
