/**
 * The token service against an independent OAuth 2.0 implementation:
 * panva's `oauth4webapi` (the client and resource-server half of the stack
 * `oidc-provider` belongs to) discovers it by its RFC 8414 metadata, runs
 * every grant it serves with its own client authentication, revokes with RFC
 * 7009, and validates each access token as an RFC 9068 resource server would.
 * Where the two disagree on the wire, this test fails.
 */
import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import { TokenService } from "@warden/token-service"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as oauth from "oauth4webapi"
import { serveTokens } from "../token-service/support.js"

const inventory = "https://inventory.shop.test"
const billing = "https://billing.shop.test"
/** Characters RFC 6749 §2.3.1 form-encodes before Basic encoding: the two sides must agree on them. */
const webSecret = "web s3cret:/+%ü"

const insecure = { [oauth.allowInsecureRequests]: true } as const

/**
 * A refusal as oauth4webapi reads it: the OAuth error code of the body, or the status and scheme of a
 * `WWW-Authenticate` challenge (a 401 for a client that did not authenticate); "ok" when there was none.
 */
const refusal = (promise: Promise<unknown>) =>
  promise.then(() => "ok", (e: unknown) =>
    e instanceof oauth.ResponseBodyError ?
      e.error :
      e instanceof oauth.WWWAuthenticateChallengeError ?
      `${e.status} ${e.cause.map((c) => c.scheme).join(" ")}` :
      String(e))

/** A protected-resource request carrying `token`, as a resource server receives it. */
const requestWith = (token: string) =>
  new Request("http://127.0.0.1/resource", { headers: { authorization: `Bearer ${token}` } })

describe("the token service with oauth4webapi", () => {
  it.scopedLive(
    "discovery, every grant, refresh reuse, revocation, and RFC 9068 validation of each token",
    () =>
      Effect.gen(function*() {
        const issuer = yield* serveTokens({
          audience: inventory,
          audiences: [billing],
          clients: [
            { clientId: "web", secret: Redacted.make(webSecret), grants: ["password", "refresh_token"] },
            {
              clientId: "reports",
              secret: Redacted.make("reports-secret"),
              grants: ["client_credentials"],
              tenant: "acme",
              scope: "stock.read"
            },
            { clientId: "orders", secret: Redacted.make("orders-secret"), grants: [TokenService.tokenExchange] }
          ]
        }, RevocationStore.layerMemory)

        const result = yield* Effect.promise(async () => {
          const issuerUrl = new URL(issuer)
          const as = await oauth.processDiscoveryResponse(
            issuerUrl,
            await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...insecure })
          )
          const web: oauth.Client = { client_id: "web" }
          const webAuth = oauth.ClientSecretBasic(webSecret)
          const validate = (token: string, audience: string) =>
            oauth.validateJwtAccessToken(as, requestWith(token), audience, insecure)
          // The password grant has no helper in oauth4webapi: it is a generic grant.
          const password = async (auth = webAuth) =>
            oauth.processGenericTokenEndpointResponse(
              as,
              web,
              await oauth.genericTokenEndpointRequest(as, web, auth, "password", {
                username: "alice",
                password: "wonderland 42"
              }, insecure)
            )
          const refresh = async (token: string) =>
            oauth.processRefreshTokenResponse(
              as,
              web,
              await oauth.refreshTokenGrantRequest(as, web, webAuth, token, insecure)
            )

          // A login gives a pair.
          const login = await password()
          const loginClaims = await validate(login.access_token, inventory)

          // Refresh rotates; the used refresh token presented again is reuse, which ends the session.
          const refreshed = await refresh(login.refresh_token!)
          const refreshedClaims = await validate(refreshed.access_token, inventory)
          const replay = await refusal(refresh(login.refresh_token!))
          const afterReplay = await refusal(refresh(refreshed.refresh_token!))

          // Client credentials, with oauth4webapi's own helper.
          const reports: oauth.Client = { client_id: "reports" }
          const service = await oauth.processClientCredentialsResponse(
            as,
            reports,
            await oauth.clientCredentialsGrantRequest(
              as,
              reports,
              oauth.ClientSecretPost("reports-secret"),
              { resource: billing },
              insecure
            )
          )
          const serviceClaims = await validate(service.access_token, billing)

          // Token exchange (RFC 8693) of a new session's token, by orders, for billing alone.
          const session = await password()
          const orders: oauth.Client = { client_id: "orders" }
          const exchanged = await oauth.processGenericTokenEndpointResponse(
            as,
            orders,
            await oauth.genericTokenEndpointRequest(
              as,
              orders,
              oauth.ClientSecretBasic("orders-secret"),
              TokenService.tokenExchange,
              {
                subject_token: session.access_token,
                subject_token_type: TokenService.accessTokenType,
                audience: billing
              },
              insecure
            )
          )
          const exchangedClaims = await validate(exchanged.access_token, billing)
          const exchangedElsewhere = await validate(exchanged.access_token, inventory).then(
            () => "accepted",
            (e: unknown) => e instanceof oauth.OperationProcessingError ? e.code : String(e)
          )

          // RFC 7009 revocation of the session's refresh token: the session cannot refresh any more.
          await oauth.processRevocationResponse(
            await oauth.revocationRequest(as, web, webAuth, session.refresh_token!, insecure)
          )
          const afterLogout = await refusal(refresh(session.refresh_token!))
          const wrongSecret = await refusal(password(oauth.ClientSecretBasic("nope")))
          return {
            as,
            login,
            loginClaims,
            refreshedClaims,
            replay,
            afterReplay,
            service,
            serviceClaims,
            exchanged,
            exchangedClaims,
            exchangedElsewhere,
            afterLogout,
            wrongSecret
          }
        })

        expect(result.as).toMatchObject({
          issuer,
          token_endpoint: `${issuer}/token`,
          revocation_endpoint: `${issuer}/revoke`,
          jwks_uri: `${issuer}/jwks`
        })
        expect(result.login.token_type).toBe("bearer")
        expect(result.login.refresh_token).toMatch(/^rt_/)
        expect(result.loginClaims).toMatchObject({ iss: issuer, sub: "u-alice", client_id: "web", tid: "acme" })
        expect(result.refreshedClaims.sid).toBe(result.loginClaims.sid)
        expect([result.replay, result.afterReplay]).toEqual(["invalid_grant", "invalid_grant"])
        // RFC 9068 §2.2: with no resource owner, `sub` is the client; oauth4webapi requires it.
        expect(result.serviceClaims).toMatchObject({ sub: "reports", client_id: "reports", aud: billing })
        expect(result.service.scope).toBe("stock.read")
        expect(result.exchanged.issued_token_type).toBe(TokenService.accessTokenType)
        expect(result.exchangedClaims).toMatchObject({
          sub: "u-alice",
          tid: "acme",
          aud: billing,
          act: { sub: "orders" }
        })
        expect(result.exchangedElsewhere).toBe(oauth.JWT_CLAIM_COMPARISON)
        expect(result.afterLogout).toBe("invalid_grant")
        expect(result.wrongSecret).toBe("401 basic")
      }),
    30_000
  )
})
