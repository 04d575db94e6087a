/**
 * The identity service (the token service as the shop runs it) over real HTTP
 * on loopback: the password and client credentials grants, their tokens
 * verified by `@warden/jwt` against the published JWKS, scope checks, every
 * RFC 6749 §5.2 / RFC 8707 error, the brief client, key rotation published
 * ahead, the metadata document, request counts and the body cap.
 *
 * Tokens carry real times and the verifier checks them, so every test runs on
 * the live clock (`it.live`).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import { ClientCredentials } from "@warden/oauth"
import { TokenService } from "@warden/token-service"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { briefLifetimeSeconds, clients, Identity, makeIdentity, people, resources } from "../src/identity.js"

// --- harness -----------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: Record<string, unknown>
}

const request = (url: string, init: RequestInit = {}): Effect.Effect<Answer> =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual", ...init })
    const text = await response.text()
    let body: Record<string, unknown> = {}
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, text, body }
  })

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic. */
const basic = (id: string, secret: Redacted.Redacted<string>) => {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, "+")
  return `Basic ${Buffer.from(`${encode(id)}:${encode(Redacted.value(secret))}`).toString("base64")}`
}

const cli = clients["shop-cli"]

/** A token request authenticated as `client` by HTTP Basic (unless `authorization` says otherwise). */
const tokenRequest = (
  identity: Identity,
  params: Readonly<Record<string, string>>,
  options: { readonly authorization?: string | null; readonly contentType?: string } = {}
) =>
  request(identity.tokenEndpoint, {
    method: "POST",
    headers: {
      "content-type": options.contentType ?? "application/x-www-form-urlencoded",
      ...(options.authorization === null
        ? {}
        : { authorization: options.authorization ?? basic(cli.clientId, cli.clientSecret) })
    },
    body: new URLSearchParams(params).toString()
  })

const login = (
  identity: Identity,
  person: keyof typeof people,
  extra: Readonly<Record<string, string>> = {},
  authorization?: string
) =>
  tokenRequest(identity, {
    grant_type: "password",
    username: people[person].username,
    password: Redacted.value(people[person].password),
    resource: resources.orders,
    ...extra
  }, authorization === undefined ? {} : { authorization })

/** The verifier a resource server for `audience` would run, on the identity's JWKS. */
const verifier = (identity: Identity, audience: string) =>
  JwtVerifier.layer({ issuers: [identity.issuer], audience }).pipe(
    Layer.provide(KeyStore.layer({ jwksUrl: identity.jwksUrl, allowInsecureLoopback: true, cooldown: "0 millis" })),
    Layer.provide(RevocationStore.layerMemory),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const verify = (token: string) => Effect.flatMap(JwtVerifier.JwtVerifier, (v) => v.verify(token))

const accessToken = (answer: Answer): string => {
  expect(answer.status, answer.text).toBe(200)
  return answer.body["access_token"] as string
}

/** The OAuth error of an answer, checked to be RFC 6749 §5.2 shaped and not cacheable. */
const oauthError = (answer: Answer) => {
  expect(answer.headers.get("content-type")).toContain("application/json")
  expect(answer.headers.get("cache-control")).toBe("no-store")
  expect(typeof answer.body["error_description"]).toBe("string")
  return { status: answer.status, error: answer.body["error"] }
}

// --- the password grant ------------------------------------------------------

describe("the password grant", () => {
  it.live("gives alice a token that @warden/jwt verifies as user alice of tenant acme with her scopes", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const answer = yield* login(identity, "alice")
      const token = accessToken(answer)
      expect(answer.headers.get("cache-control")).toBe("no-store")
      expect(answer.body).toMatchObject({
        token_type: "Bearer",
        expires_in: 300,
        scope: "orders.write orders.read stock.read"
      })
      const principal = yield* verify(token).pipe(Effect.provide(verifier(identity, resources.orders)))
      expect(principal.kind).toBe("user")
      expect(principal.subject).toBe("alice")
      expect(principal.tenant).toBe("acme")
      expect(principal.tenants).toEqual(["acme"])
      expect(principal.clientId).toBe("shop-cli")
      expect(principal.issuer).toBe(identity.issuer)
      expect(principal.scopes.tokens).toEqual(["orders.write", "orders.read", "stock.read"])

      const header = jose.decodeProtectedHeader(token)
      expect(header).toMatchObject({ alg: "ES256", typ: "at+jwt", kid: yield* identity.currentKid })
      const claims = jose.decodeJwt(token)
      expect(claims).toMatchObject({
        iss: identity.issuer,
        aud: resources.orders,
        sub: "alice",
        client_id: "shop-cli",
        tid: "acme"
      })
      expect(claims.exp! - claims.iat!).toBe(300)
      expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(5)
      expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
      // A token for orders is no token for inventory.
      const elsewhere = yield* Effect.flip(verify(token)).pipe(Effect.provide(verifier(identity, resources.inventory)))
      expect(elsewhere.reason).toBe("audience")
    }).pipe(Effect.scoped))

  it.live("gives dave, who works for two tenants, a token that signs both, his home tenant first", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const token = accessToken(yield* login(identity, "dave"))
      expect(jose.decodeJwt(token)).toMatchObject({ sub: "dave", tid: "acme", tenants: ["acme", "globex"] })
      const principal = yield* verify(token).pipe(Effect.provide(verifier(identity, resources.orders)))
      expect(principal.tenant).toBe("acme")
      expect([...principal.tenants].sort()).toEqual(["acme", "globex"])
      // Without `tenants`, a person's token signs only their tenant (alice's above).
      const alice = jose.decodeJwt(accessToken(yield* login(identity, "alice")))
      expect(alice["tenants"]).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("authenticates the client by client_secret_post too, and bob gets a globex token for inventory", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const answer = yield* tokenRequest(identity, {
        grant_type: "password",
        username: "bob",
        password: Redacted.value(people.bob.password),
        resource: resources.inventory,
        client_id: cli.clientId,
        client_secret: Redacted.value(cli.clientSecret)
      }, { authorization: null })
      const principal = yield* verify(accessToken(answer)).pipe(Effect.provide(verifier(identity, resources.inventory)))
      expect([principal.subject, principal.tenant, principal.kind]).toEqual(["bob", "globex", "user"])
    }).pipe(Effect.scoped))

  it.live("grants the scope asked for when the person has all of it, and refuses more or a malformed scope", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const alice = yield* login(identity, "alice", { scope: "orders.read" })
      expect(alice.body["scope"]).toBe("orders.read")
      expect(jose.decodeJwt(accessToken(alice))["scope"]).toBe("orders.read")
      const principal = yield* verify(accessToken(alice)).pipe(Effect.provide(verifier(identity, resources.orders)))
      expect(principal.scopes.tokens).toEqual(["orders.read"])
      expect(principal.scopes.has("orders.write")).toBe(false)

      const carolAll = yield* login(identity, "carol")
      expect(carolAll.body["scope"]).toBe("orders.read stock.read")

      // carol may not write orders: asking for it is refused, alone or beside what she may have.
      for (const scope of ["orders.write", "orders.write orders.read"]) {
        expect(oauthError(yield* login(identity, "carol", { scope }))).toEqual({ status: 400, error: "invalid_scope" })
      }
      expect(oauthError(yield* login(identity, "alice", { scope: "orders.read  stock.read" }))).toEqual({
        status: 400,
        error: "invalid_scope"
      })
      expect(oauthError(yield* login(identity, "alice", { scope: "" }))).toEqual({
        status: 400,
        error: "invalid_scope"
      })
    }).pipe(Effect.scoped))

  it.live("a wrong password or an unknown user: the same invalid_grant, echoing nothing", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const password = "not-alices-password-4711"
      const wrong = yield* login(identity, "alice", { password })
      expect(oauthError(wrong)).toEqual({ status: 400, error: "invalid_grant" })
      expect(wrong.text).not.toContain(password)
      expect(wrong.text).not.toContain("4711")
      const unknown = yield* login(identity, "alice", { username: "mallory", password })
      expect(oauthError(unknown)).toEqual({ status: 400, error: "invalid_grant" })
      expect(unknown.text).toBe(wrong.text)
      expect(unknown.text).not.toContain("mallory")
      // carol's password is not alice's.
      const swapped = yield* login(identity, "alice", { password: Redacted.value(people.carol.password) })
      expect(oauthError(swapped)).toEqual({ status: 400, error: "invalid_grant" })
      expect(swapped.text).not.toContain(Redacted.value(people.carol.password))
      const missing = yield* tokenRequest(identity, {
        grant_type: "password",
        username: "alice",
        resource: resources.orders
      })
      expect(oauthError(missing)).toEqual({ status: 400, error: "invalid_request" })
    }).pipe(Effect.scoped))

  it.live("an unknown resource is invalid_target, none means the gateway; several make one token for all (RFC 8707)", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const unknown = yield* login(identity, "alice", { resource: "https://evil.example/steal" })
      expect(oauthError(unknown)).toEqual({ status: 400, error: "invalid_target" })
      expect(unknown.text).not.toContain("evil.example")
      const missing = yield* tokenRequest(identity, {
        grant_type: "password",
        username: "alice",
        password: Redacted.value(people.alice.password)
      })
      expect(jose.decodeJwt(accessToken(missing)).aud).toBe(resources.gateway)
      const several = (resource: ReadonlyArray<string>) =>
        request(identity.tokenEndpoint, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: basic(cli.clientId, cli.clientSecret)
          },
          body: new URLSearchParams([
            ["grant_type", "password"],
            ["username", "alice"],
            ["password", Redacted.value(people.alice.password)],
            ...resource.map((r): [string, string] => ["resource", r])
          ]).toString()
        })
      const mixed = yield* several([resources.orders, "https://evil.example/steal"])
      expect(oauthError(mixed)).toEqual({ status: 400, error: "invalid_target" })
      // Several known resources: one token whose aud lists them all, accepted by both resource servers.
      const both = accessToken(yield* several([resources.orders, resources.inventory, resources.orders]))
      expect(jose.decodeJwt(both).aud).toEqual([resources.orders, resources.inventory])
      for (const audience of [resources.orders, resources.inventory]) {
        const principal = yield* verify(both).pipe(Effect.provide(verifier(identity, audience)))
        expect(principal.subject).toBe("alice")
      }
    }).pipe(Effect.scoped))

  it.live("the brief client's tokens live 3 seconds and come without a refresh token; shop-cli's come with one", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const brief = clients["shop-cli-brief"]
      const short = yield* login(identity, "alice", {}, basic(brief.clientId, brief.clientSecret))
      expect(short.body["expires_in"]).toBe(briefLifetimeSeconds)
      const claims = jose.decodeJwt(accessToken(short))
      expect(claims.exp! - claims.iat!).toBe(briefLifetimeSeconds)
      expect(short.body["refresh_token"]).toBeUndefined()
      const normal = yield* login(identity, "alice")
      expect(normal.body["expires_in"]).toBe(300)
      expect(normal.body["refresh_token"]).toMatch(/^rt_/)
    }).pipe(Effect.scoped))
})

// --- client authentication and request errors --------------------------------

describe("the token endpoint's errors", () => {
  it.live("a wrong, missing or unknown client secret is 401 invalid_client with WWW-Authenticate: Basic", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const secret = "definitely-wrong-secret"
      const cases = [
        basic(cli.clientId, Redacted.make(secret)),
        basic("nobody", Redacted.make(secret)),
        basic(clients.orders.clientId, cli.clientSecret),
        `Basic ${Buffer.from("no-colon").toString("base64")}`,
        "Bearer something",
        null
      ]
      for (const authorization of cases) {
        const answer = yield* tokenRequest(identity, {
          grant_type: "password",
          username: "alice",
          password: Redacted.value(people.alice.password),
          resource: resources.orders
        }, { authorization })
        expect(oauthError(answer), String(authorization)).toEqual({ status: 401, error: "invalid_client" })
        expect(answer.headers.get("www-authenticate")).toMatch(/^Basic realm="/)
        expect(answer.text).not.toContain(secret)
        expect(answer.text).not.toContain(Redacted.value(people.alice.password))
      }
      const post = yield* tokenRequest(identity, {
        grant_type: "client_credentials",
        resource: resources.inventory,
        client_id: clients.orders.clientId,
        client_secret: secret
      }, { authorization: null })
      expect(oauthError(post)).toEqual({ status: 401, error: "invalid_client" })
      expect(post.text).not.toContain(secret)
    }).pipe(Effect.scoped))

  it.live("unsupported_grant_type, unauthorized_client and invalid_request", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const unsupported = yield* tokenRequest(identity, { grant_type: "authorization_code", code: "x" })
      expect(oauthError(unsupported)).toEqual({ status: 400, error: "unsupported_grant_type" })
      expect(oauthError(yield* tokenRequest(identity, { resource: resources.orders }))).toEqual({
        status: 400,
        error: "invalid_request"
      })
      // A service client may not log people in; the login client has no tokens of its own.
      const serviceLogin = yield* tokenRequest(identity, {
        grant_type: "password",
        username: "alice",
        password: Redacted.value(people.alice.password),
        resource: resources.orders
      }, { authorization: basic(clients.orders.clientId, clients.orders.clientSecret) })
      expect(oauthError(serviceLogin)).toEqual({ status: 400, error: "unauthorized_client" })
      const cliOwn = yield* tokenRequest(identity, { grant_type: "client_credentials", resource: resources.orders })
      expect(oauthError(cliOwn)).toEqual({ status: 400, error: "unauthorized_client" })
      // Two authentication methods at once.
      const both = yield* tokenRequest(identity, {
        grant_type: "client_credentials",
        resource: resources.orders,
        client_secret: Redacted.value(cli.clientSecret)
      })
      expect(oauthError(both)).toEqual({ status: 400, error: "invalid_request" })
      // Not a form.
      const asJson = yield* request(identity.tokenEndpoint, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basic(cli.clientId, cli.clientSecret) },
        body: JSON.stringify({ grant_type: "password" })
      })
      expect(oauthError(asJson)).toEqual({ status: 400, error: "invalid_request" })
      // A repeated parameter (RFC 6749 §3.2).
      const repeated = yield* request(identity.tokenEndpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: basic(cli.clientId, cli.clientSecret)
        },
        body: "grant_type=password&grant_type=client_credentials&resource=https%3A%2F%2Forders.shop.test"
      })
      expect(oauthError(repeated)).toEqual({ status: 400, error: "invalid_request" })
      // The token endpoint takes POST only.
      const get = yield* request(identity.tokenEndpoint)
      expect(get.status).toBe(404)
      expect(get.text).not.toContain("access_token")
    }).pipe(Effect.scoped))

  it.live("a body over 16 KiB is refused with 413, and the server serves on", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const big = yield* request(identity.tokenEndpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=password&pad=${"x".repeat(20 * 1024)}`
      })
      expect(big.status).toBe(413)
      const nearly = yield* login(identity, "alice", { pad: "x".repeat(15 * 1024) })
      expect(nearly.status).toBe(200)
      expect((yield* request(`${identity.issuer}/nowhere`)).status).toBe(404)
      expect(identity.requests("/token")).toBe(2)
      expect(identity.requests("/nowhere")).toBe(1)
    }).pipe(Effect.scoped))
})

// --- client credentials -------------------------------------------------------

describe("the client credentials grant", () => {
  it.live("through @warden/oauth's ClientCredentials: a service token verifying as orders, for acme and globex", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const orders = yield* ClientCredentials.make({
        ...clients.orders,
        tokenEndpoint: identity.tokenEndpoint,
        allowInsecureLoopback: true
      })
      const token = yield* orders.source({ resource: resources.inventory, scope: "stock.reserve" }).token
      expect(token.scope).toBe("stock.reserve")
      const principal = yield* verify(Redacted.value(token.value)).pipe(
        Effect.provide(verifier(identity, resources.inventory))
      )
      expect(principal.kind).toBe("service")
      expect(principal.subject).toBe("orders")
      expect(principal.clientId).toBe("orders")
      expect(principal.tenant).toBe("acme")
      expect([...principal.tenants].sort()).toEqual(["acme", "globex"])
      expect(principal.signs("globex")).toBe(true)
      expect(principal.scopes.tokens).toEqual(["stock.reserve"])
      expect(jose.decodeJwt(Redacted.value(token.value))).toMatchObject({ aud: resources.inventory, tid: "acme" })

      // client_secret_post, no scope asked: everything the client may have.
      const inventory = yield* ClientCredentials.make({
        ...clients.inventory,
        method: "client_secret_post",
        tokenEndpoint: identity.tokenEndpoint,
        allowInsecureLoopback: true
      })
      const own = yield* inventory.source({ resource: resources.orders }).token
      expect(own.scope).toBe("orders.read")
      const service = yield* verify(Redacted.value(own.value)).pipe(
        Effect.provide(verifier(identity, resources.orders))
      )
      expect([service.kind, service.subject, service.tenant]).toEqual(["service", "inventory", "acme"])
      expect(identity.requests("/token")).toBe(2)

      // A resource the server does not know: the client sees the token endpoint's refusal.
      const refused = yield* Effect.flip(orders.source({ resource: "https://unknown.shop.test" }).token)
      expect([refused.reason, refused.error]).toEqual(["refused", "invalid_target"])
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})

// --- rotation, metadata -------------------------------------------------------

describe("keys and metadata", () => {
  it.live("rotate: a new kid signs new tokens, the JWKS lists both, old and new tokens verify", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const firstKid = yield* identity.currentKid
      const old = accessToken(yield* login(identity, "alice"))
      const verifierContext = yield* Layer.build(verifier(identity, resources.orders))
      const check = (token: string) => verify(token).pipe(Effect.provide(verifierContext))
      expect((yield* check(old)).subject).toBe("alice")

      const kid = yield* identity.rotate()
      expect(kid).not.toBe(firstKid)
      expect(yield* identity.currentKid).toBe(kid)
      const jwks = yield* request(identity.jwksUrl)
      expect(jwks.headers.get("cache-control")).toBe("public, max-age=1")
      expect((jwks.body["keys"] as Array<{ kid: string }>).map((k) => k.kid)).toEqual([firstKid, kid])

      const fresh = accessToken(yield* login(identity, "bob"))
      expect(jose.decodeProtectedHeader(fresh).kid).toBe(kid)
      // The verifier that knew only the first key fetches the JWKS again for the new kid.
      const jwksBefore = identity.requests("/jwks")
      expect((yield* check(fresh)).subject).toBe("bob")
      expect(identity.requests("/jwks")).toBe(jwksBefore + 1)
      expect((yield* check(old)).subject).toBe("alice")

      // Once more: every key whose tokens may still be live stays published.
      const third = yield* identity.rotate()
      expect(yield* identity.kids).toEqual([firstKid, kid, third])
      const newest = accessToken(yield* login(identity, "carol"))
      expect(jose.decodeProtectedHeader(newest).kid).toBe(third)
      expect((yield* check(newest)).subject).toBe("carol")
      expect((yield* check(old)).subject).toBe("alice")
    }).pipe(Effect.scoped))

  it.live("rotate publishes the new key first and signs with it only after publishAhead", () =>
    Effect.gen(function*() {
      const identity = yield* makeIdentity({ publishAhead: "1500 millis" })
      const firstKid = yield* identity.currentKid
      const rotation = yield* Effect.fork(identity.rotate())
      for (let i = 0; i < 200 && (yield* identity.kids).length < 2; i++) yield* Effect.sleep("5 millis")
      // Published, not yet signing: the JWKS lists the new key while tokens still carry the old one.
      const published = (yield* request(identity.jwksUrl)).body["keys"] as Array<{ kid: string }>
      expect(published).toHaveLength(2)
      expect(yield* identity.currentKid).toBe(firstKid)
      expect(jose.decodeProtectedHeader(accessToken(yield* login(identity, "alice"))).kid).toBe(firstKid)
      const kid = yield* Fiber.join(rotation)
      expect(published.map((k) => k.kid)).toEqual([firstKid, kid])
      expect(jose.decodeProtectedHeader(accessToken(yield* login(identity, "alice"))).kid).toBe(kid)
    }).pipe(Effect.scoped))

  it.live("publishes RFC 8414 metadata", () =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const metadata = yield* request(identity.metadataUrl)
      expect(metadata.status).toBe(200)
      expect(identity.metadataUrl).toBe(`${identity.issuer}/.well-known/oauth-authorization-server`)
      expect(metadata.body).toMatchObject({
        issuer: identity.issuer,
        token_endpoint: identity.tokenEndpoint,
        jwks_uri: identity.jwksUrl,
        revocation_endpoint: identity.revocationEndpoint,
        grant_types_supported: ["password", "refresh_token", "client_credentials", TokenService.tokenExchange],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"]
      })
      expect(identity.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(identity.requests("/.well-known/oauth-authorization-server")).toBe(1)
    }).pipe(Effect.scoped))
})
