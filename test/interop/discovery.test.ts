/**
 * The verifier configured from an issuer URL alone, against a real OpenID
 * provider (oidc-provider on loopback) and against hostile metadata served
 * from a loopback server: another issuer, a key set over plain http to a
 * public host, a redirect, and an RFC 8414 document where OIDC's is missing.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Discovery, JwtVerifier } from "@warden/jwt"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { OidcProvider } from "../support/oidcProvider.js"

/** A loopback server answering each path with what `routes` says. */
const metadataServer = (
  routes: (base: string) => Record<string, { status: number; body?: unknown; location?: string }>
) =>
  Effect.acquireRelease(
    Effect.async<{ base: string; close: () => void }>((resume) => {
      const server = createServer((req, res) => {
        const route = routes(base)[req.url ?? ""]
        if (route === undefined) {
          res.writeHead(404).end()
          return
        }
        res.writeHead(route.status, {
          "content-type": "application/json",
          ...(route.location === undefined ? {} : { location: route.location })
        }).end(route.body === undefined ? "" : JSON.stringify(route.body))
      })
      let base = ""
      server.listen(0, "127.0.0.1", () => {
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resume(Effect.succeed({ base, close: () => server.close() }))
      })
    }),
    ({ close }) => Effect.sync(close)
  )

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

describe("Discovery", () => {
  it.live("builds a verifier from oidc-provider's issuer URL that verifies its tokens", () =>
    Effect.gen(function*() {
      const provider = yield* OidcProvider
      const context = yield* Layer.build(
        Discovery.layerIssuer({
          issuer: provider.issuer,
          audience: provider.resource,
          allowInsecureLoopback: true,
          verifier: { algorithms: ["RS256"] }
        })
      )
      const verifier = Context.get(context, JwtVerifier.JwtVerifier)
      const { accessToken } = yield* Effect.promise(() =>
        provider.clientCredentials({ clientId: "orders", scope: "orders.write", resource: provider.resource })
      )
      expect((yield* verifier.verify(accessToken)).subject).toBe("orders")
    }).pipe(Effect.scoped))

  it.live("refuses metadata that names another issuer, a key set it must not fetch, or a redirect", () =>
    Effect.gen(function*() {
      const { base } = yield* metadataServer((b) => ({
        "/a/.well-known/openid-configuration": {
          status: 200,
          body: { issuer: "https://evil.test", jwks_uri: `${b}/k` }
        },
        "/b/.well-known/openid-configuration": {
          status: 200,
          body: { issuer: `${b}/b`, jwks_uri: "http://keys.example.com/jwks" }
        },
        "/c/.well-known/openid-configuration": { status: 302, location: "https://evil.test/meta" },
        "/d/.well-known/openid-configuration": { status: 200, body: { issuer: `${b}/d` } },
        "/.well-known/oauth-authorization-server/e": { status: 200, body: { issuer: `${b}/e`, jwks_uri: `${b}/k` } }
      }))
      const fetch = (path: string) =>
        Effect.exit(Discovery.fetch(`${base}${path}`, { allowInsecureLoopback: true })).pipe(
          Effect.provide(FetchHttpClient.layer)
        )
      expect(reasonOf(yield* fetch("/a"))).toBe("issuer_mismatch")
      expect(reasonOf(yield* fetch("/b"))).toBe("insecure_url")
      expect(reasonOf(yield* fetch("/c"))).toBe("redirect")
      expect(reasonOf(yield* fetch("/d"))).toBe("invalid")
      // No OIDC document: the RFC 8414 one, at its own well-known path.
      const rfc8414 = yield* fetch("/e")
      expect(rfc8414).toEqual(Exit.succeed({ issuer: `${base}/e`, jwksUri: `${base}/k` }))
      // Plain http to the issuer itself is refused unless loopback is allowed.
      const strict = yield* Effect.exit(Discovery.fetch(`${base}/e`)).pipe(Effect.provide(FetchHttpClient.layer))
      expect(reasonOf(strict)).toBe("insecure_url")
    }).pipe(Effect.scoped))
})
