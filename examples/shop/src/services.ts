/**
 * Runs the shop's RPC services, each its own HTTP server on a loopback port,
 * each verifying every token against the identity service's JWKS, each with
 * its own append-only audit file. The wire between them is real HTTP.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as Rpc from "@effect/rpc/Rpc"
import type * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import type { AuditLog, GrantSource } from "@warden/core"
import { ApiKey, Authenticator } from "@warden/core"
import { JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import { AuditFile, Protected } from "@warden/rpc"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import { createServer as createTlsServer } from "node:https"
import { serviceAttribute } from "./telemetry.js"

/** Where a service trusts tokens from, and what audience it is. */
export interface Trust {
  readonly issuer: string
  readonly jwksUrl: string
  readonly audience: string
}

/** A service's authentication: the identity service's JWTs and, when `keys` is given, API keys from that store. */
export const authentication = (
  trust: Trust,
  keys: Context.Context<ApiKey.ApiKeyStore> | undefined,
  revocations?: Context.Context<RevocationStore.RevocationStore>
): Layer.Layer<Authenticator.Authenticator> =>
  keys === undefined ?
    tokens(trust, revocations) :
    Authenticator.layerByKind({
      Bearer: tokens(trust, revocations),
      ApiKey: ApiKey.layerAuthenticator.pipe(Layer.provide(Layer.succeedContext(keys)))
    })

/**
 * Token verification for a service: JWTs from the identity service, its JWKS refetched on a new kid, revocations
 * from `revocations` (its own memory when not given).
 */
export const tokens = (trust: Trust, revocations?: Context.Context<RevocationStore.RevocationStore>) =>
  JwtVerifier.layerAuthenticator.pipe(
    Layer.provide(JwtVerifier.layer({ issuers: [trust.issuer], audience: trust.audience })),
    Layer.provide(
      // Refreshed every second (the identity service's max-age), so a key it publishes 2.5 s before signing with it
      // (one refresh plus one fetch timeout) is here before its first token: rotation needs no unknown-kid fetch.
      KeyStore.layer({
        jwksUrl: trust.jwksUrl,
        allowInsecureLoopback: true,
        minRefreshInterval: "1 second",
        timeout: "1 second"
      })
    ),
    Layer.provide(revocations === undefined ? RevocationStore.layerMemory : Layer.succeedContext(revocations)),
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.orDie
  )

/**
 * Starts one RPC service on a loopback port (a free one by default) and
 * returns its URL. The server stops with the scope.
 */
export const serve = <Rpcs extends Rpc.Any>(options: {
  readonly name: string
  readonly group: RpcGroup.RpcGroup<Rpcs>
  readonly handlers: Layer.Layer<Rpc.ToHandler<Rpcs>>
  readonly trust: Trust
  readonly auditPath: string
  readonly port?: number
  /** Where API keys are kept, when the service accepts them. */
  readonly keys?: Context.Context<ApiKey.ApiKeyStore>
  /** Where the service's revocations are kept; its own memory when not given. */
  readonly revocations?: Context.Context<RevocationStore.RevocationStore>
  /** Where the service's grants come from; the token's own claims when not given. */
  readonly grants?: Layer.Layer<GrantSource.GrantSource>
}): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = HttpRouter.Default.serve().pipe(
      Layer.provide(RpcServer.layer(options.group, { spanAttributes: { [serviceAttribute]: options.name } })),
      Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
      Layer.provide(options.handlers),
      Layer.provide(Protected.layer),
      Layer.provide(options.grants ?? Layer.empty),
      Layer.provide(authentication(options.trust, options.keys, options.revocations)),
      Layer.provide(AuditFile.layer(options.auditPath)),
      Layer.provide(NodeFileSystem.layer),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: options.port ?? 0 }))
    )
    // The compiler cannot simplify the generic group's requirements; every one is provided above.
    const context = yield* Layer.build(server as unknown as Layer.Layer<HttpServer.HttpServer, unknown>)
    return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
      Effect.provide(context)
    )
  })

/**
 * Starts the REST gateway on a loopback port (a free one by default) and returns its
 * URL: the HttpApi with Warden's protection, verifying tokens for `trust`'s
 * audience, auditing to its own file. The server stops with the scope.
 */
export const serveRest = (options: {
  readonly name: string
  readonly api: Layer.Layer<HttpApi.Api, never, Authenticator.Authenticator | AuditLog.AuditLog>
  readonly trust: Trust
  readonly auditPath: string
  readonly port?: number
  /** Where API keys are kept, when the service accepts them. */
  readonly keys?: Context.Context<ApiKey.ApiKeyStore>
  /** Where the service's revocations are kept; its own memory when not given. */
  readonly revocations?: Context.Context<RevocationStore.RevocationStore>
}): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = HttpApiBuilder.serve().pipe(
      Layer.provide(options.api),
      Layer.provide(authentication(options.trust, options.keys, options.revocations)),
      Layer.provide(AuditFile.layer(options.auditPath)),
      Layer.provide(NodeFileSystem.layer),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: options.port ?? 0 }))
    )
    const context = yield* Layer.build(server)
    return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address)).pipe(
      Effect.provide(context)
    )
  })

/**
 * Starts an HttpApi over TLS that asks every client for a certificate and
 * lets Warden decide on it (`PeerIdentity`): the server trusts `pki.ca`.
 */
export const serveTls = (options: {
  readonly api: Layer.Layer<HttpApi.Api, never, Authenticator.Authenticator | AuditLog.AuditLog>
  readonly peers: Layer.Layer<Authenticator.Authenticator>
  readonly tls: { readonly ca: Buffer; readonly key: Buffer; readonly cert: Buffer }
  readonly auditPath: string
}): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const tls = () =>
      createTlsServer({
        key: options.tls.key,
        cert: options.tls.cert,
        ca: [options.tls.ca],
        requestCert: true,
        rejectUnauthorized: false
      }) as unknown as ReturnType<typeof createServer>
    const server = HttpApiBuilder.serve().pipe(
      Layer.provide(options.api),
      Layer.provide(options.peers),
      Layer.provide(AuditFile.layer(options.auditPath)),
      Layer.provide(NodeFileSystem.layer),
      Layer.provideMerge(NodeHttpServer.layer(tls, { host: "127.0.0.1", port: 0 }))
    )
    const context = yield* Layer.build(server)
    return yield* HttpServer.addressWith((address) =>
      Effect.succeed(address._tag === "TcpAddress" ? `https://127.0.0.1:${address.port}` : "")
    ).pipe(Effect.provide(context))
  })
