/**
 * The identity service: `@warden/token-service` on loopback
 * (http://127.0.0.1, a free port), the authorization server the shop's
 * people log in to and its services get their tokens from.
 *
 * - `POST /token` (RFC 6749 §3.2, form-encoded, the client by HTTP Basic or
 *   by form parameters):
 *   - `password` through the login client `shop-cli`: an access token for
 *     the user and a refresh token; `refresh_token` rotates it (a refresh
 *     token used twice ends the whole session, every access token of it
 *     included). `shop-cli-brief` gives 3-second tokens, for the demo's
 *     "about to expire" steps.
 *   - `client_credentials` for a service client (`orders`, `inventory`): its
 *     own token, `sub` = `client_id`, with the `tenants` it may act for.
 *   - token exchange (RFC 8693) for `orders`: the user's token traded for one
 *     meant for the inventory alone, the user and tenant kept, `act` naming
 *     orders.
 *
 *   `resource` (RFC 8707, may repeat) picks the audience among
 *   {@link resources}; a login usually names all three, so one token serves
 *   the gateway, orders and the inventory.
 * - `POST /revoke` (RFC 7009): the logout; the session's access tokens go to
 *   the revocation store the services share, so every service refuses them.
 * - `GET /jwks` with `max-age` 1 s, and RFC 8414 metadata.
 *
 * A new signing key is published `publishAhead` (2.5 s by default: the
 * verifiers' refresh interval plus their fetch timeout) before it signs.
 *
 * The users and clients below are demo data, passwords and secrets included.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { RevocationStore } from "@warden/jwt"
import { LoginThrottle, RefreshStore, TokenApi, TokenService, UserStore } from "@warden/token-service"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"

// --- the directory -------------------------------------------------------------------------------------------------

/**
 * A person who logs in with a password; `scope` is everything their tokens may
 * carry; `tenants`, when given, every tenant they may act for (`tenant` first).
 */
export interface Person {
  readonly username: string
  readonly password: Redacted.Redacted<string>
  readonly tenant: string
  readonly tenants?: ReadonlyArray<string>
  readonly scope: string
}

/** The shop's people, by username. */
export const people: {
  readonly alice: Person
  readonly carol: Person
  readonly bob: Person
  readonly dave: Person
} = {
  alice: {
    username: "alice",
    password: Redacted.make("wonderland 42"),
    tenant: "acme",
    scope: "orders.write orders.read stock.read"
  },
  carol: { username: "carol", password: Redacted.make("carol-pass"), tenant: "acme", scope: "orders.read stock.read" },
  bob: {
    username: "bob",
    password: Redacted.make("can we fix it?"),
    tenant: "globex",
    scope: "orders.write orders.read stock.read"
  },
  // Keeps the stock of both tenants: a clerk in acme, an auditor in globex (the inventory's role assignments).
  dave: {
    username: "dave",
    password: Redacted.make("stock takes time"),
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "orders.read stock.read"
  }
}

/**
 * A registered client: the token service's `Client`, its secret named as in
 * `@warden/oauth`'s `ClientAuth`, so a client spreads into
 * `ClientCredentials.make({ ...clients.orders, tokenEndpoint, ... })`.
 */
export interface Client extends Omit<TokenService.Client, "secret"> {
  readonly clientSecret: Redacted.Redacted<string>
}

/** How long the tokens of `shop-cli-brief` live, in seconds. */
export const briefLifetimeSeconds = 3

/** The registered clients, all confidential. */
export const clients: {
  readonly "shop-cli": Client
  readonly "shop-cli-brief": Client
  readonly orders: Client
  readonly inventory: Client
} = {
  "shop-cli": {
    clientId: "shop-cli",
    clientSecret: Redacted.make("shop-cli-secret"),
    grants: ["password", "refresh_token"]
  },
  "shop-cli-brief": {
    clientId: "shop-cli-brief",
    clientSecret: Redacted.make("shop-cli-brief-secret"),
    grants: ["password"],
    accessLifetime: Duration.seconds(briefLifetimeSeconds)
  },
  orders: {
    clientId: "orders",
    // Characters that RFC 6749 §2.3.1 form-encodes before Basic encoding.
    clientSecret: Redacted.make("orders s3cret:/+"),
    grants: ["client_credentials", TokenService.tokenExchange],
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "stock.read stock.reserve"
  },
  inventory: {
    clientId: "inventory",
    clientSecret: Redacted.make("inventory-secret"),
    grants: ["client_credentials"],
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "orders.read"
  }
}

/** The resources (RFC 8707) tokens are issued for: their `aud`. */
export const resources = {
  gateway: "https://gateway.shop.test",
  orders: "https://orders.shop.test",
  inventory: "https://inventory.shop.test"
} as const

// --- the handle ----------------------------------------------------------------------------------------------------

export interface Identity {
  /** The issuer (`iss`), also the server's base URL: `http://127.0.0.1:<port>`. */
  readonly issuer: string
  readonly tokenEndpoint: string
  /** RFC 7009 revocation: the logout. */
  readonly revocationEndpoint: string
  readonly jwksUrl: string
  /** The RFC 8414 metadata document's URL. */
  readonly metadataUrl: string
  /** Rotates the signing key: publishes a new one, waits `publishAhead` until it signs, and returns its `kid`. */
  readonly rotate: () => Effect.Effect<string>
  /** The `kid` that signs new tokens. */
  readonly currentKid: Effect.Effect<string>
  /** Every published `kid`, oldest first. */
  readonly kids: Effect.Effect<ReadonlyArray<string>>
  /** How many requests reached `path` (the path alone, without query), whatever their outcome. */
  readonly requests: (path: string) => number
}

/** How the identity service runs. */
export interface IdentityOptions {
  /** How long a new key is published before it signs. Default 2.5 seconds. */
  readonly publishAhead?: Duration.DurationInput
  /** The JWKS response's `max-age`. Default 1 second, so the demo's verifiers refresh often. */
  readonly jwksMaxAge?: Duration.DurationInput
  /** The loopback port. Default a free one. */
  readonly port?: number
  /**
   * Where revocations, refresh families and failed logins are kept: the revocation store must be the one the
   * services read, so a logout reaches them. Memory of the identity service's own by default.
   */
  readonly stores?: Context.Context<
    RevocationStore.RevocationStore | RefreshStore.RefreshStore | LoginThrottle.LoginThrottle
  >
}

/** How many distinct paths `requests` counts; others count as `(other)`. */
const maxCountedPaths = 256

const pathOf = (url: string): string => {
  try {
    return new URL(url, "http://127.0.0.1").pathname
  } catch {
    return "(malformed)"
  }
}

/** Starts an identity service on a loopback port (a free one by default); it stops with the scope. */
export const makeIdentity = (options: IdentityOptions = {}): Effect.Effect<Identity, never, Scope.Scope> =>
  Effect.gen(function*() {
    const publishAhead = Duration.decode(options.publishAhead ?? Duration.millis(2500))
    // Bound slow clients: headers within 5 seconds, the whole request within 10.
    const server = yield* Layer.build(
      NodeHttpServer.layer(() => {
        const s = createServer()
        s.headersTimeout = 5_000
        s.requestTimeout = 10_000
        return s
      }, { host: "127.0.0.1", port: options.port ?? 0 })
    ).pipe(Effect.orDie)
    const address = Context.get(server, HttpServer.HttpServer).address
    const issuer = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
    const stores = options.stores ??
      (yield* Layer.build(
        Layer.mergeAll(RevocationStore.layerMemory, RefreshStore.layerMemory, LoginThrottle.layerMemory)
      ))
    const service = yield* Layer.build(
      TokenService.layer({
        issuer,
        audience: resources.gateway,
        audiences: [resources.orders, resources.inventory],
        clients: Object.values(clients).map(({ clientSecret, ...client }) => ({ ...client, secret: clientSecret })),
        publishAhead,
        jwksMaxAge: options.jwksMaxAge ?? "1 second"
      }).pipe(
        Layer.provide(UserStore.layerMemory(
          Object.values(people).map(({ username, ...person }) => ({
            ...person,
            username,
            subject: username
          }))
        )),
        Layer.provide(Layer.succeedContext(stores))
      )
    )
    const counts = new Map<string, number>()
    const counting = HttpMiddleware.make((app) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const path = pathOf(request.url)
        const counted = counts.has(path) || counts.size < maxCountedPaths ? path : "(other)"
        counts.set(counted, (counts.get(counted) ?? 0) + 1)
        return app
      })
    )
    yield* Layer.build(
      HttpApiBuilder.serve(counting).pipe(
        Layer.provide(TokenApi.layer),
        Layer.provide(Layer.succeedContext(service)),
        Layer.provide(Layer.succeedContext(server))
      )
    )
    const tokens = Context.get(service, TokenService.TokenService)
    return {
      issuer,
      tokenEndpoint: tokens.metadata.token_endpoint,
      revocationEndpoint: tokens.metadata.revocation_endpoint,
      jwksUrl: tokens.metadata.jwks_uri,
      metadataUrl: `${issuer}/.well-known/oauth-authorization-server`,
      rotate: () =>
        tokens.rotateKey.pipe(
          Effect.tap((kid) =>
            Effect.sleep(publishAhead).pipe(
              Effect.zipRight(Effect.logDebug("identity: signing key rotated")),
              Effect.annotateLogs("kid", kid)
            )
          )
        ),
      currentKid: tokens.signingKid,
      kids: Effect.map(tokens.jwks, (set) => set.keys.flatMap((k) => k.kid === undefined ? [] : [k.kid])),
      requests: (path) => counts.get(path) ?? 0
    }
  })

/** The identity service with its defaults. */
export const Identity: Effect.Effect<Identity, never, Scope.Scope> = makeIdentity()
