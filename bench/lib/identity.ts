/**
 * The issuing side of the benchmarks: signing keys, a JWKS endpoint on
 * loopback that counts its requests, a fast compact-JWS signer for bulk
 * token generation, and Warden verifiers wired to the endpoint.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { KeyObject, sign as cryptoSign } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export const issuer = "https://identity.bench"
export const audience = "https://inventory.bench"

export type Alg = TokenIssuer.SigningKey["alg"]

/** A JWKS endpoint on 127.0.0.1 serving whatever `serve` last set, counting requests. */
export interface JwksEndpoint {
  readonly url: string
  readonly serve: (keys: ReadonlyArray<TokenIssuer.SigningKey>) => void
  readonly requests: () => number
  readonly close: () => Promise<void>
}

export const startJwks = (keys: ReadonlyArray<TokenIssuer.SigningKey>): Promise<JwksEndpoint> =>
  new Promise((resolve) => {
    let body = JSON.stringify(TokenIssuer.jwks(keys))
    let count = 0
    const server = createServer((_req, res) => {
      count++
      res.writeHead(200, { "content-type": "application/json" })
      res.end(body)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}/jwks`,
        serve: (next) => {
          body = JSON.stringify(TokenIssuer.jwks(next))
        },
        requests: () => count,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

export const generateKey = (alg: Alg, kid?: string): Promise<TokenIssuer.SigningKey> =>
  Effect.runPromise(TokenIssuer.generateKey(alg, kid))

/** The claims every benchmark token carries (plus `iat`, `exp`, `jti`). */
export const baseClaims = {
  iss: issuer,
  aud: audience,
  sub: "user-0042",
  tid: "tenant-3",
  scope: "orders.write orders.read openid",
  perms: ["inventory:stock:*", "orders:order:read", "orders:order:write", "reports:*"],
  denies: ["inventory:stock:delete"]
}

/** One token signed with jose through Warden's own `TokenIssuer` (as a real issuer would). */
export const signWithIssuer = (key: TokenIssuer.SigningKey, extra: Record<string, unknown> = {}): Promise<string> =>
  Effect.runPromise(TokenIssuer.sign(key, { ...baseClaims, ...extra }, { lifetimeSeconds: 3600 }))

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url")

/**
 * A synchronous node:crypto signer producing the same tokens as `TokenIssuer.sign` (same header and claims), for
 * the thousands of distinct tokens the pressure and memory benchmarks need.
 */
export const fastSigner = (key: TokenIssuer.SigningKey) => {
  const privateKey = KeyObject.from(key.privateKey)
  const hash = key.alg === "EdDSA" ? null : "sha256"
  const header = b64({ typ: "at+jwt", alg: key.alg, kid: key.kid })
  const keyInput = key.alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" as const } : privateKey
  let counter = 0
  return (extra: Record<string, unknown> = {}): string => {
    const iat = Math.floor(Date.now() / 1000)
    const input = `${header}.${b64({ iat, exp: iat + 3600, jti: `fast-${counter++}`, ...baseClaims, ...extra })}`
    return `${input}.${cryptoSign(hash, Buffer.from(input), keyInput).toString("base64url")}`
  }
}

/** A Warden verifier (and its key store) on a JWKS endpoint; `close` releases its scope (the refresh fiber). */
export interface WardenVerifier {
  readonly verifier: Context.Tag.Service<JwtVerifier.JwtVerifier>
  readonly keys: Context.Tag.Service<KeyStore.KeyStore>
  readonly close: () => Promise<void>
}

export const verifierLayer = (
  jwksUrl: string,
  options: Partial<JwtVerifier.Options> = {},
  store: Partial<KeyStore.Options> = {}
) =>
  JwtVerifier.layer({ issuers: [issuer], audience, permissionsClaim: "perms", denyClaim: "denies", ...options }).pipe(
    Layer.provideMerge(KeyStore.layer({ jwksUrl, allowInsecureLoopback: true, ...store })),
    Layer.provideMerge(RevocationStore.layerMemory),
    Layer.provide(NodeHttpClient.layerUndici)
  )

export const makeVerifier = async (
  jwksUrl: string,
  options: Partial<JwtVerifier.Options> = {},
  store: Partial<KeyStore.Options> = {}
): Promise<WardenVerifier> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(verifierLayer(jwksUrl, options, store), scope))
  return {
    verifier: Context.get(context, JwtVerifier.JwtVerifier),
    keys: Context.get(context, KeyStore.KeyStore),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
