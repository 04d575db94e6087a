/**
 * Proves the oidc-provider fixture with nothing but jose and fetch, so later interop tests of the verifier can
 * rely on what it issues.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as jose from "jose"
import {
  basicAuthorization,
  type OidcClientId,
  OidcProvider,
  type OidcProviderHandle
} from "../support/oidcProvider.js"

const fetchJson = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    expect(response.status).toBe(200)
    return (await response.json()) as Record<string, unknown>
  })

const fetchJwks = (provider: OidcProviderHandle) =>
  fetchJson(provider.jwksUri).pipe(Effect.map((body) => body as unknown as jose.JSONWebKeySet))

const issue = (provider: OidcProviderHandle, options: Parameters<OidcProviderHandle["clientCredentials"]>[0]) =>
  Effect.promise(() => provider.clientCredentials(options))

const introspect = (provider: OidcProviderHandle, token: string, clientId: OidcClientId = "orders") =>
  fetchJson(provider.introspectionEndpoint, {
    method: "POST",
    headers: { authorization: basicAuthorization(clientId), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token })
  })

const verify = (provider: OidcProviderHandle, token: string, jwks: jose.JSONWebKeySet) =>
  Effect.promise(() =>
    jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
      issuer: provider.issuer,
      audience: provider.resource,
      typ: "at+jwt",
      algorithms: ["RS256"]
    })
  )

const isCompactJws = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)

describe("OidcProvider fixture", () => {
  it.scoped("serves discovery on loopback with the endpoints the handle names", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      expect(provider.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const discovery = yield* fetchJson(`${provider.issuer}/.well-known/openid-configuration`)
      expect(discovery).toMatchObject({
        issuer: provider.issuer,
        jwks_uri: provider.jwksUri,
        token_endpoint: provider.tokenEndpoint,
        introspection_endpoint: provider.introspectionEndpoint
      })
      expect(discovery.grant_types_supported).toContain("client_credentials")
    }))

  it.scoped("issues RFC 9068 JWT access tokens for the resource that jose verifies against the JWKS", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const issued = yield* issue(provider, { clientId: "orders", scope: "orders.write", resource: provider.resource })
      expect(issued.tokenType).toBe("Bearer")
      expect(issued.expiresIn).toBe(300)
      expect(isCompactJws(issued.accessToken)).toBe(true)

      const header = jose.decodeProtectedHeader(issued.accessToken)
      expect(header).toEqual({ alg: "RS256", typ: "at+jwt", kid: provider.kids()[0] })

      const jwksBefore = provider.jwksRequests()
      const jwks = yield* fetchJwks(provider)
      expect(provider.jwksRequests()).toBe(jwksBefore + 1)
      expect(jwks.keys.map((key) => key.kid)).toEqual([header.kid])
      // Public keys only.
      expect(jwks.keys[0]).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256" })
      expect(jwks.keys[0]).not.toHaveProperty("d")

      const { payload, protectedHeader } = yield* verify(provider, issued.accessToken, jwks)
      expect(protectedHeader.typ).toBe("at+jwt")
      expect(payload).toEqual({
        iss: provider.issuer,
        aud: provider.resource,
        sub: "orders",
        client_id: "orders",
        scope: "orders.write",
        tid: "acme",
        jti: expect.any(String),
        iat: expect.any(Number),
        exp: expect.any(Number)
      })
      expect(payload.exp! - payload.iat!).toBe(300)
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(60)
    }))

  it.scoped("puts the client's tenant in tid, keeps only the resource's scopes, and rejects unknown resources", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const jwks = yield* fetchJwks(provider)

      const inventory = yield* issue(provider, {
        clientId: "inventory",
        scope: "inventory.read orders.read unknown.scope openid",
        resource: provider.resource
      })
      const { payload } = yield* verify(provider, inventory.accessToken, jwks)
      expect(payload).toMatchObject({ tid: "globex", client_id: "inventory", sub: "inventory" })
      // A space-separated string, in the requested order, filtered to the resource server's scopes.
      expect(payload.scope).toBe("inventory.read orders.read")

      const audit = yield* issue(provider, { clientId: "audit", resource: provider.resource })
      const auditClaims = (yield* verify(provider, audit.accessToken, jwks)).payload
      expect(auditClaims).not.toHaveProperty("tid")
      expect(auditClaims).not.toHaveProperty("scope")

      const refused = yield* Effect.flip(
        Effect.tryPromise(() =>
          provider.clientCredentials({ clientId: "orders", scope: "orders.write", resource: "https://elsewhere.test" })
        )
      )
      expect(String(refused.error)).toContain("invalid_target")
    }))

  it.scoped("rotates to a fresh signing key while the JWKS keeps the previous one", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const [firstKid] = provider.kids()
      const before = yield* issue(provider, { clientId: "orders", scope: "orders.write", resource: provider.resource })
      const jwksBefore = yield* fetchJwks(provider)

      const { kid } = yield* Effect.promise(() => provider.rotate())
      expect(kid).not.toBe(firstKid)
      expect(provider.kids()).toEqual([kid, firstKid])

      const after = yield* issue(provider, { clientId: "orders", scope: "orders.write", resource: provider.resource })
      expect(jose.decodeProtectedHeader(before.accessToken).kid).toBe(firstKid)
      expect(jose.decodeProtectedHeader(after.accessToken).kid).toBe(kid)

      const jwksAfter = yield* fetchJwks(provider)
      expect(jwksAfter.keys.map((key) => key.kid)).toEqual([kid, firstKid])
      expect((yield* verify(provider, before.accessToken, jwksAfter)).payload.tid).toBe("acme")
      expect((yield* verify(provider, after.accessToken, jwksAfter)).payload.tid).toBe("acme")

      // The JWKS fetched before the rotation does not know the new key.
      const stale = yield* Effect.flip(
        Effect.tryPromise(() =>
          jose.jwtVerify(after.accessToken, jose.createLocalJWKSet(jwksBefore), { issuer: provider.issuer })
        )
      )
      expect(stale.error).toBeInstanceOf(jose.errors.JWKSNoMatchingKey)
    }))

  it.scoped("issues opaque tokens without a resource or for the opaque resource, active at introspection", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider

      const bare = yield* issue(provider, { clientId: "orders", scope: "orders.write" })
      expect(isCompactJws(bare.accessToken)).toBe(false)
      expect(bare.accessToken.split(".")).toHaveLength(1)
      expect(bare.tokenType).toBe("Bearer")
      expect(bare.expiresIn).toBe(300)
      const bareIntrospection = yield* introspect(provider, bare.accessToken)
      expect(bareIntrospection).toEqual({
        active: true,
        client_id: "orders",
        iss: provider.issuer,
        tid: "acme",
        token_type: "Bearer",
        iat: expect.any(Number),
        exp: expect.any(Number)
      })

      const reports = yield* issue(provider, {
        clientId: "inventory",
        scope: "orders.read",
        resource: provider.opaqueResource
      })
      expect(isCompactJws(reports.accessToken)).toBe(false)
      // Any registered client may introspect; tokens survive a rotation (one store across providers).
      yield* Effect.promise(() => provider.rotate())
      expect(yield* introspect(provider, reports.accessToken, "audit")).toMatchObject({
        active: true,
        client_id: "inventory",
        tid: "globex",
        aud: provider.opaqueResource,
        scope: "orders.read"
      })

      expect(yield* introspect(provider, "not-a-token")).toEqual({ active: false })
    }))

  it.scoped("counts the requests it serves", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      expect(provider.requests()).toBe(0)
      expect(provider.jwksRequests()).toBe(0)
      yield* issue(provider, { clientId: "orders", resource: provider.resource })
      yield* fetchJwks(provider)
      yield* fetchJwks(provider)
      expect(provider.requests()).toBe(3)
      expect(provider.jwksRequests()).toBe(2)
    }))

  it.effect("closes the server when the scope closes", () =>
    Effect.gen(function*() {
      const issuer = yield* Effect.scoped(
        Effect.gen(function*() {
          const provider = yield* OidcProvider
          // Leave a pooled keep-alive connection behind: closing must not wait for it, nor let it be reused.
          yield* fetchJwks(provider)
          return provider.issuer
        })
      )
      const failure = yield* Effect.flip(Effect.tryPromise(() => fetch(`${issuer}/jwks`)))
      expect(failure.error).toBeInstanceOf(TypeError)
    }))
})
