/**
 * The auth RPC over real HTTP: a service authenticated by its own token asks
 * a central Warden about users' tokens, their permissions per tenant, and
 * has refresh tokens refreshed and tokens invalidated. A user's token as the
 * caller is refused: the auth RPC is for services.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, Authenticator, GrantsCache, GrantSource, Permission, Roles, RoleStore } from "@warden/core"
import { JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import { Outbound, Protected } from "@warden/rpc"
import { TestNet } from "@warden/testing"
import { AuthRpc, RefreshStore, TokenApi, TokenService, UserStore } from "@warden/token-service"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:http"
import { alice, cheap, post } from "./support.js"

const inventory = "https://inventory.shop.test"
const auth = "https://auth.shop.test"
const Perms = Permission.catalogue("inventory:stock:read", "inventory:stock:adjust")
const roles = Roles.define(Perms, { clerk: { allow: ["inventory:stock:*"], deny: ["inventory:stock:adjust"] } })

const setup = Effect.gen(function*() {
  const port = yield* TestNet.freePort
  const issuer = `http://127.0.0.1:${port}`
  const tokens = yield* Layer.build(
    TokenService.layer({
      issuer,
      audience: inventory,
      audiences: [auth],
      clients: [
        {
          clientId: "bff",
          secret: Redacted.make("bff-secret"),
          grants: ["password", "refresh_token", "client_credentials"],
          tenant: "acme"
        }
      ]
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(
        UserStore.layerMemory([alice({ tenants: ["globex"] })], cheap),
        RefreshStore.layerMemory,
        RevocationStore.layerMemory
      ))
    )
  )
  yield* Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(TokenApi.layer),
      Layer.provide(Layer.succeedContext(tokens)),
      Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port }))
    )
  )
  const verifierFor = (audience: string | readonly [string, ...Array<string>]) =>
    JwtVerifier.layerAuthenticator.pipe(
      Layer.provide(JwtVerifier.layer({ issuers: [issuer], audience })),
      Layer.provide(KeyStore.layer({ jwksUrl: `${issuer}/jwks`, allowInsecureLoopback: true })),
      // The token service's own revocations: an invalidated token is refused here at once.
      Layer.provide(Layer.succeedContext(tokens)),
      Layer.provide(FetchHttpClient.layer),
      Layer.orDie
    )
  const subjects = Context.get(yield* Layer.build(verifierFor(inventory)), Authenticator.Authenticator)
  const rpc = yield* Layer.build(
    HttpRouter.Default.serve().pipe(
      Layer.provide(RpcServer.layer(AuthRpc.Group)),
      Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
      Layer.provide(AuthRpc.layerHandlers),
      Layer.provide(AuthRpc.layerSubjects(subjects)),
      Layer.provide(Layer.succeedContext(tokens)),
      Layer.provide(GrantSource.layerRoles(roles)),
      Layer.provide(RoleStore.layerMemory([{ subject: "u-alice", tenant: "acme", roles: ["clerk"] }])),
      Layer.provide(GrantsCache.layerMemory()),
      Layer.provide(Protected.layer),
      Layer.provide(verifierFor(auth)),
      Layer.provide(AuditLog.layerMemory),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
    )
  )
  const rpcUrl = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(`${a}/rpc`)).pipe(Effect.provide(rpc))
  const client = yield* RpcClient.make(AuthRpc.Group).pipe(
    Effect.provide(Outbound.layerManual),
    Effect.provide(
      RpcClient.layerProtocolHttp({ url: rpcUrl }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      )
    )
  )
  const service =
    (yield* post(`${issuer}/token`, { grant_type: "client_credentials", resource: auth }, "bff:bff-secret"))
      .body
  const user = (yield* post(`${issuer}/token`, {
    grant_type: "password",
    username: "alice",
    password: "wonderland 42"
  }, "bff:bff-secret")).body
  return { client, service: service.access_token, user }
})

const as = (token: string) => RpcClient.withHeaders({ authorization: `Bearer ${token}` })

describe("the auth RPC over HTTP", () => {
  it.scopedLive(
    "answers a service about a user's token, permissions, refresh and logout",
    () =>
      Effect.gen(function*() {
        const { client, service, user } = yield* setup
        const token = Redacted.make(user.access_token)
        const verified = yield* client.VerifyToken({ token }).pipe(as(service))
        expect(verified).toMatchObject({ kind: "user", subject: "u-alice", tenant: "acme", scopes: ["stock.read"] })
        expect(yield* client.CheckPermission({ token, permission: "inventory:stock:read" }).pipe(as(service))).toEqual({
          allowed: true,
          reason: "permission inventory:stock:*"
        })
        expect(yield* client.CheckPermission({ token, permission: "inventory:stock:adjust" }).pipe(as(service)))
          .toEqual({ allowed: false, reason: "denied_permission" })
        // In globex alice holds no role: nothing is allowed there.
        expect(
          yield* client.CheckPermission({ token, permission: "inventory:stock:read", tenant: "globex" }).pipe(
            as(service)
          )
        ).toEqual({ allowed: false, reason: "missing_permission" })
        const refusedTenant = yield* Effect.flip(
          client.CheckPermission({ token, permission: "inventory:stock:read", tenant: "initech" }).pipe(as(service))
        )
        expect(refusedTenant).toMatchObject({ _tag: "Forbidden", reason: "tenant_not_signed" })
        expect(yield* client.GetUserPermissions({ token }).pipe(as(service))).toEqual({
          tenant: "acme",
          scopes: ["stock.read"],
          allow: ["inventory:stock:*"],
          deny: ["inventory:stock:adjust"]
        })
        const refreshed = yield* client.RefreshToken({ refreshToken: Redacted.make(user.refresh_token) }).pipe(
          as(service)
        )
        expect(refreshed.refresh_token).not.toBe(user.refresh_token)
        yield* client.InvalidateToken({ token: Redacted.make(refreshed.refresh_token!) }).pipe(as(service))
        const after = yield* Effect.flip(
          client.VerifyToken({ token: Redacted.make(refreshed.access_token) }).pipe(as(service))
        )
        expect(after).toMatchObject({ _tag: "Unauthenticated", reason: "revoked" })
      }),
    30_000
  )

  it.scopedLive("refuses a user's token as the caller, and a caller without a token", () =>
    Effect.gen(function*() {
      const { client, user } = yield* setup
      const token = Redacted.make(user.access_token)
      // A user token is not meant for the auth RPC's audience: refused before any policy.
      const asUser = yield* Effect.flip(client.VerifyToken({ token }).pipe(as(user.access_token)))
      expect(asUser).toMatchObject({ _tag: "Unauthenticated", reason: "audience" })
      const anonymous = yield* Effect.flip(client.VerifyToken({ token }))
      expect(anonymous).toMatchObject({ _tag: "Unauthenticated", reason: "missing_credentials" })
    }), 30_000)
})
