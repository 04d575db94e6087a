/** A verifier wired to a real loopback JWKS server, for tests. */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JwksServer } from "./jwksServer.js"

export const issuer = "https://identity.test"
export const audience = "https://inventory.test"

/** Starts a JWKS server publishing one fresh key and builds a key store and verifier on it. */
export const setup = (
  options: Partial<JwtVerifier.Options> = {},
  store: Partial<KeyStore.Options> = {},
  alg: TokenIssuer.SigningKey["alg"] = "ES256",
  revocationStore: Layer.Layer<RevocationStore.RevocationStore> = RevocationStore.layerMemory
) =>
  Effect.gen(function*() {
    const server = yield* JwksServer
    const key = yield* TokenIssuer.generateKey(alg)
    server.serve(TokenIssuer.jwks([key]))
    const context = yield* Layer.build(
      JwtVerifier.layer({ issuers: [issuer], audience, ...options }).pipe(
        Layer.provideMerge(KeyStore.layer({ jwksUrl: server.url, allowInsecureLoopback: true, ...store })),
        Layer.provideMerge(revocationStore),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
    const verifier = yield* Effect.provide(JwtVerifier.JwtVerifier, context)
    const keys = yield* Effect.provide(KeyStore.KeyStore, context)
    const revocations = yield* Effect.provide(RevocationStore.RevocationStore, context)
    const claims = { iss: issuer, aud: audience, sub: "alice", tid: "acme", scope: "orders.write" }
    const sign = (extra: TokenIssuer.TokenClaims = {}, signOptions: Parameters<typeof TokenIssuer.sign>[2] = {}) =>
      TokenIssuer.sign(key, { ...claims, ...extra }, signOptions)
    return { server, key, verifier, keys, revocations, sign, claims }
  })
