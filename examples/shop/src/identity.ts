/**
 * The identity service: signs access tokens for the shop's people and
 * publishes its keys as a JWKS over HTTP on loopback. (Password login and the
 * OAuth token endpoint come with the full shop.)
 */
import { TokenIssuer } from "@warden/jwt"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface Person {
  readonly subject: string
  readonly tenant: string
  readonly scope: string
}

export interface Identity {
  readonly issuer: string
  readonly jwksUrl: string
  /** Signs an access token for `person`, for `audience`. */
  readonly tokenFor: (person: Person, audience: string) => Effect.Effect<string>
}

/** Starts the identity service; it stops with the scope. */
export const Identity: Effect.Effect<Identity, never, Scope.Scope> = Effect.gen(function*() {
  const key = yield* TokenIssuer.generateKey("ES256")
  const body = JSON.stringify(TokenIssuer.jwks([key]))
  const server = createServer((req, res) => {
    if (req.url === "/jwks") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" })
      res.end(body)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const issuer = `http://127.0.0.1:${port}`
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    tokenFor: (person, audience) =>
      TokenIssuer.sign(key, {
        iss: issuer,
        aud: audience,
        sub: person.subject,
        tid: person.tenant,
        scope: person.scope
      })
  }
})
