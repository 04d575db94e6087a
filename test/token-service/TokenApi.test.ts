/**
 * The token service over real HTTP, and two verifying services sharing its
 * Redis revocations: the verifiers find the service by its RFC 8414
 * metadata, a reused refresh token and a logout are refused by both.
 */
import { describe, expect, it } from "@effect/vitest"
import { Authenticator, Credential } from "@warden/core"
import { Discovery, RevocationStore } from "@warden/jwt"
import { RedisClient, RevocationStore as RedisRevocations } from "@warden/redis"
import { TestRedis } from "@warden/testing"
import { TokenService } from "@warden/token-service"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import * as http from "node:http"
import { post, serveTokens } from "./support.js"

const audience = "https://inventory.shop.test"
const billing = "https://billing.shop.test"

const revocationsOn = (url: string, prefix: string) =>
  RedisRevocations.layer.pipe(Layer.provide(RedisClient.layer({ url, keyPrefix: prefix })))

/** The token service on a loopback port, its revocations on Redis. */
const serveOn = (url: string, prefix: string) =>
  serveTokens({
    audience,
    audiences: [billing],
    clients: [
      { clientId: "web", secret: Redacted.make("web-secret"), grants: ["password", "refresh_token"] },
      { clientId: "orders", secret: Redacted.make("orders-secret"), grants: [TokenService.tokenExchange] }
    ]
  }, revocationsOn(url, prefix))

/**
 * A POST whose body goes in `chunks` chunks of `size` bytes with no Content-Length (chunked transfer encoding), as
 * a client streaming a body would send it; the status, or 0 when the server ended the connection first.
 */
const chunkedPost = (url: string, chunks: number, size: number) =>
  Effect.async<{ readonly status: number }>((resume) => {
    const request = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "transfer-encoding": "chunked" }
    }, (response) => {
      response.resume()
      resume(Effect.succeed({ status: response.statusCode ?? 0 }))
    })
    request.on("error", () => resume(Effect.succeed({ status: 0 })))
    const write = (i: number): void => {
      if (i === chunks) return void request.end()
      if (!request.destroyed) request.write("x".repeat(size), () => write(i + 1))
    }
    write(0)
  })

describe("the token service over HTTP", () => {
  it.scopedLive(
    "logins, rotation, reuse and logout, seen by two services sharing its Redis revocations",
    () =>
      Effect.gen(function*() {
        const redis = yield* TestRedis.shared
        const prefix = TestRedis.prefix()
        const issuer = yield* serveOn(redis.url, prefix)
        // Two verifying services, each with its own connection to the shared revocations.
        const verifier = () =>
          Effect.map(
            Layer.build(
              Discovery.layerIssuer({
                issuer,
                audience,
                allowInsecureLoopback: true,
                revocations: revocationsOn(redis.url, prefix)
              }).pipe(Layer.orDie)
            ),
            (ctx) => Context.get(ctx, Authenticator.Authenticator)
          )
        const one = yield* verifier()
        const two = yield* verifier()
        const outcome = (a: typeof one, token: string) =>
          Effect.match(a.authenticate(Credential.bearer(token)), {
            onFailure: (e) => e.reason,
            onSuccess: (p) => `${p.subject}@${p.tenant}`
          })

        const login = yield* post(`${issuer}/token`, {
          grant_type: "password",
          username: "alice",
          password: "wonderland 42"
        })
        expect(login.status).toBe(200)
        expect(login.headers.get("cache-control")).toBe("no-store")
        expect(yield* outcome(one, login.body.access_token)).toBe("u-alice@acme")
        expect(yield* outcome(two, login.body.access_token)).toBe("u-alice@acme")

        const rotated = yield* post(`${issuer}/token`, {
          grant_type: "refresh_token",
          refresh_token: login.body.refresh_token
        })
        expect(rotated.status).toBe(200)
        // Replaying the used refresh token: refused, and the whole family with it, on both services.
        const replay = yield* post(`${issuer}/token`, {
          grant_type: "refresh_token",
          refresh_token: login.body.refresh_token
        })
        expect([replay.status, replay.body.error]).toEqual([400, "invalid_grant"])
        expect(yield* outcome(one, rotated.body.access_token)).toBe("revoked")
        expect(yield* outcome(two, login.body.access_token)).toBe("revoked")

        // Logout: a new session, revoked by its refresh token, is refused by both.
        const session = yield* post(`${issuer}/token`, {
          grant_type: "password",
          username: "alice",
          password: "wonderland 42"
        })
        expect(yield* outcome(two, session.body.access_token)).toBe("u-alice@acme")
        const logout = yield* post(`${issuer}/revoke`, { token: session.body.refresh_token })
        expect(logout.status).toBe(200)
        expect(yield* outcome(one, session.body.access_token)).toBe("revoked")
        expect(yield* outcome(two, session.body.access_token)).toBe("revoked")
      }),
    30_000
  )

  it.scopedLive("refusals are RFC 6749 errors that never echo what was sent", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis.shared
      const issuer = yield* serveOn(redis.url, TestRedis.prefix())
      const wrong = yield* post(`${issuer}/token`, {
        grant_type: "password",
        username: "alice",
        password: "hunter2-secret"
      })
      expect([wrong.status, wrong.body.error]).toEqual([400, "invalid_grant"])
      expect(wrong.text).not.toContain("hunter2")
      const client = yield* post(
        `${issuer}/token`,
        { grant_type: "password", username: "a", password: "b" },
        "web:nope"
      )
      expect([client.status, client.body.error]).toEqual([401, "invalid_client"])
      expect(client.headers.get("www-authenticate")).toContain("Basic")
      const grant = yield* post(`${issuer}/token`, { grant_type: "urn:x" })
      expect([grant.status, grant.body.error]).toEqual([400, "unsupported_grant_type"])
      const twoClients = yield* post(`${issuer}/token`, { grant_type: "password", client_id: "orders" })
      expect([twoClients.status, twoClients.body.error]).toEqual([400, "invalid_request"])
      const missing = yield* post(`${issuer}/token`, { grant_type: "password" })
      expect([missing.status, missing.body.error]).toEqual([400, "invalid_request"])
      const metadata = yield* Effect.promise(() =>
        fetch(`${issuer}/.well-known/oauth-authorization-server`).then((r) =>
          r.json() as Promise<Record<string, unknown>>
        )
      )
      expect(metadata).toMatchObject({ issuer, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` })
    }), 30_000)

  it.scopedLive(
    "an exchanged token is accepted by the audience it was exchanged for, with its actor, and by no other",
    () =>
      Effect.gen(function*() {
        const redis = yield* TestRedis.shared
        const prefix = TestRedis.prefix()
        const issuer = yield* serveOn(redis.url, prefix)
        const verifierFor = (aud: string) =>
          Effect.map(
            Layer.build(
              Discovery.layerIssuer({ issuer, audience: aud, allowInsecureLoopback: true }).pipe(Layer.orDie)
            ),
            (ctx) => Context.get(ctx, Authenticator.Authenticator)
          )
        const inventory = yield* verifierFor(audience)
        const billingService = yield* verifierFor(billing)
        const login = yield* post(`${issuer}/token`, {
          grant_type: "password",
          username: "alice",
          password: "wonderland 42"
        })
        const exchanged = yield* post(`${issuer}/token`, {
          grant_type: TokenService.tokenExchange,
          subject_token: login.body.access_token,
          subject_token_type: TokenService.accessTokenType,
          audience: billing
        }, "orders:orders-secret")
        expect(exchanged.status).toBe(200)
        expect(exchanged.body.issued_token_type).toBe(TokenService.accessTokenType)
        const principal = yield* billingService.authenticate(Credential.bearer(exchanged.body.access_token))
        expect([principal.subject, principal.tenant, principal.actor]).toEqual(["u-alice", "acme", "orders"])
        const elsewhere = yield* Effect.flip(inventory.authenticate(Credential.bearer(exchanged.body.access_token)))
        expect(elsewhere.reason).toBe("audience")
        // The user's own token carries no actor.
        expect((yield* inventory.authenticate(Credential.bearer(login.body.access_token))).actor).toBeNull()
        const missingType = yield* post(`${issuer}/token`, {
          grant_type: TokenService.tokenExchange,
          subject_token: login.body.access_token,
          audience: billing
        }, "orders:orders-secret")
        expect([missingType.status, missingType.body.error]).toEqual([400, "invalid_request"])
      }),
    30_000
  )

  it.scopedLive(
    "a body is form-encoded, bounded and unrepeated, refused otherwise with an RFC 6749 answer",
    () =>
      Effect.gen(function*() {
        const issuer = yield* serveTokens({
          audience,
          clients: [{ clientId: "web", secret: Redacted.make("web-secret"), grants: ["password"] }]
        }, RevocationStore.layerMemory)
        const token = `${issuer}/token`
        const login = { grant_type: "password", username: "alice", password: "wonderland 42" }
        // A repeated password is refused without decoding it, so nothing of it comes back.
        const repeated = new URLSearchParams({ ...login })
        repeated.append("password", "hunter2-secret")
        const twice = yield* post(token, repeated)
        expect([twice.status, twice.body.error]).toEqual([400, "invalid_request"])
        expect(twice.text).not.toContain("hunter2")
        const json = yield* post(token, JSON.stringify(login), "web:web-secret", "application/json")
        expect([json.status, json.body.error]).toEqual([400, "invalid_request"])
        const malformedJson = yield* post(token, "{\"password\": \"hunter2", "web:web-secret", "application/json")
        expect([malformedJson.status, malformedJson.text]).toEqual([400, json.text])
        const large = yield* post(token, new URLSearchParams({ ...login, padding: "x".repeat(20_000) }))
        expect([large.status, large.body.error]).toEqual([413, "invalid_request"])
        // Sent in chunks, with no length to refuse it by: cut off at the bound, answered 413, never waited on.
        const chunked = yield* chunkedPost(token, 64, 1024)
        expect(chunked.status).toBe(413)
        // Past 1 MiB the server stops reading: refused (the answer may not arrive before the connection ends).
        const huge = yield* chunkedPost(token, 1100, 1024)
        expect([0, 413]).toContain(huge.status)
        // The server serves on, and the same login within the bound works.
        const ok = yield* post(token, new URLSearchParams({ ...login, padding: "x".repeat(10_000) }))
        expect(ok.status).toBe(200)
        const jwks = yield* Effect.promise(() => fetch(`${issuer}/jwks`))
        expect(jwks.headers.get("cache-control")).toBe("public, max-age=60")
      }),
    30_000
  )

  it.scopedLive(
    "several resources make one token for all of them, kept by every refresh (RFC 8707)",
    () =>
      Effect.gen(function*() {
        const issuer = yield* serveTokens({
          audience,
          audiences: [billing],
          clients: [{ clientId: "web", secret: Redacted.make("web-secret"), grants: ["password", "refresh_token"] }]
        }, RevocationStore.layerMemory)
        const form = new URLSearchParams({ grant_type: "password", username: "alice", password: "wonderland 42" })
        form.append("resource", audience)
        form.append("resource", billing)
        form.append("resource", billing)
        const login = yield* post(`${issuer}/token`, form)
        expect(login.status).toBe(200)
        expect(jose.decodeJwt(login.body.access_token).aud).toEqual([audience, billing])
        const refreshed = yield* post(`${issuer}/token`, {
          grant_type: "refresh_token",
          refresh_token: login.body.refresh_token
        })
        expect(jose.decodeJwt(refreshed.body.access_token).aud).toEqual([audience, billing])
        form.append("resource", "https://evil.test")
        const unknown = yield* post(`${issuer}/token`, form)
        expect([unknown.status, unknown.body.error]).toEqual([400, "invalid_target"])
      }),
    30_000
  )
})
