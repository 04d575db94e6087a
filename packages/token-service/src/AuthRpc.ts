/**
 * Authorization as a service: an RpcGroup Warden defines and serves, for
 * services that want a central decision instead of verifying tokens
 * themselves. `VerifyToken`, `CheckPermission` and `GetUserPermissions`
 * answer about a user's token; `RefreshToken` and `InvalidateToken` go
 * through the `TokenService`. Every procedure is protected by Warden itself:
 * the caller is a service, authenticated by its own token.
 *
 * @example
 * ```ts
 * const Server = RpcServer.layer(AuthRpc.Group).pipe(
 *   Layer.provide(AuthRpc.layerHandlers),
 *   Layer.provide(AuthRpc.layerSubjects(verifier)),
 *   Layer.provide(Protected.layer)
 * )
 * ```
 *
 * @since 0.3.0
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Credential from "@warden/core/Credential"
import { GrantSource } from "@warden/core/GrantSource"
import * as Guard from "@warden/core/Guard"
import * as Policy from "@warden/core/Policy"
import { CurrentUser } from "@warden/core/Principal"
import { Protected } from "@warden/rpc"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { TokenService } from "./TokenService.js"

/**
 * A refusal of the token service, on the wire (RFC 6749 §5.2 code and description).
 *
 * @since 0.3.0
 * @category errors
 */
export class TokenRefused extends Schema.TaggedError<TokenRefused>("@warden/TokenRefused")("TokenRefused", {
  error: Schema.String,
  description: Schema.String
}) {}

/**
 * What a verified token says.
 *
 * @since 0.3.0
 * @category models
 */
export const Verified = Schema.Struct({
  kind: Schema.Literal("user", "service"),
  subject: Schema.String,
  tenant: Schema.String,
  tenants: Schema.Array(Schema.String),
  clientId: Schema.NullOr(Schema.String),
  actor: Schema.NullOr(Schema.String),
  scopes: Schema.Array(Schema.String),
  expiresAt: Schema.NullOr(Schema.Number)
})

/**
 * A permission decision, as data.
 *
 * @since 0.3.0
 * @category models
 */
export const Decision = Schema.Struct({
  allowed: Schema.Boolean,
  /** The grant that matched, or why not: `missing_permission`, `denied_permission`. */
  reason: Schema.String
})

/**
 * A user's grants in one tenant.
 *
 * @since 0.3.0
 * @category models
 */
export const Permissions = Schema.Struct({
  tenant: Schema.String,
  scopes: Schema.Array(Schema.String),
  allow: Schema.Array(Schema.String),
  deny: Schema.Array(Schema.String)
})

const Token = Schema.Redacted(Schema.String)

/**
 * The procedures, before protection.
 *
 * @since 0.3.0
 * @category rpc
 */
export const Rpcs = RpcGroup.make(
  Rpc.make("VerifyToken", { payload: { token: Token }, success: Verified, error: Unauthenticated }),
  Rpc.make("CheckPermission", {
    payload: { token: Token, permission: Schema.String, tenant: Schema.optional(Schema.String) },
    success: Decision,
    error: Schema.Union(Unauthenticated, Forbidden)
  }),
  Rpc.make("GetUserPermissions", {
    payload: { token: Token, tenant: Schema.optional(Schema.String) },
    success: Permissions,
    error: Schema.Union(Unauthenticated, Forbidden)
  }),
  Rpc.make("RefreshToken", {
    payload: { refreshToken: Token },
    success: Schema.Struct({
      access_token: Schema.String,
      token_type: Schema.Literal("Bearer"),
      expires_in: Schema.Number,
      scope: Schema.String,
      refresh_token: Schema.optional(Schema.String)
    }),
    error: TokenRefused
  }),
  Rpc.make("InvalidateToken", { payload: { token: Token }, error: TokenRefused })
)

const forServices = Policy.service()

/**
 * The auth RPC: every procedure requires a service caller.
 *
 * @since 0.3.0
 * @category rpc
 */
export const Group = Protected.group(Rpcs, {
  VerifyToken: forServices,
  CheckPermission: forServices,
  GetUserPermissions: forServices,
  RefreshToken: forServices,
  InvalidateToken: forServices
})

/**
 * How the auth RPC verifies the tokens it is asked about (not its callers'):
 * an `Authenticator` for users' tokens, e.g. a `JwtVerifier` accepting every
 * audience the services use.
 *
 * @since 0.3.0
 * @category models
 */
export class Subjects extends Context.Tag("@warden/token-service/AuthRpc/Subjects")<
  Subjects,
  Authenticator["Type"]
>() {}

/**
 * `Subjects` from an authenticator.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerSubjects = (authenticator: Authenticator["Type"]): Layer.Layer<Subjects> =>
  Layer.succeed(Subjects, authenticator)

const refused = (e: { readonly error: string; readonly description: string }) =>
  new TokenRefused({ error: e.error, description: e.description })

/**
 * The handlers: over `Subjects`, the `GrantSource` (the token's claims by
 * default) and the `TokenService`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerHandlers = Protected.toLayer(
  Group,
  Effect.gen(function*() {
    const subjects = yield* Subjects
    const service = yield* TokenService
    const verify = (token: Redacted.Redacted<string>) => subjects.authenticate(Credential.bearer(Redacted.value(token)))
    const grantsFor = (token: Redacted.Redacted<string>, tenant: string | undefined) =>
      Effect.gen(function*() {
        const principal = yield* verify(token)
        const selected = Guard.selectTenant(principal, tenant)
        if (Either.isLeft(selected)) return yield* selected.left
        const source = yield* GrantSource
        return { tenant: selected.right, grants: yield* source.grants(principal, selected.right), principal }
      })
    /** The calling service as a client of the token service. */
    const callerClient = Effect.flatMap(CurrentUser, (caller) => {
      const client = caller.clientId === null ? undefined : service.findClient(caller.clientId)
      return client === undefined ?
        Effect.fail(new TokenRefused({ error: "unauthorized_client", description: "the caller is not a client" })) :
        Effect.succeed(client)
    })
    return {
      VerifyToken: ({ token }) =>
        Effect.map(verify(token), (p) => ({
          kind: p.kind,
          subject: p.subject,
          tenant: p.tenant,
          tenants: p.tenants,
          clientId: p.clientId,
          actor: p.actor,
          scopes: p.scopes.tokens,
          expiresAt: p.expiresAt
        })),
      CheckPermission: ({ permission, tenant, token }) =>
        Effect.map(grantsFor(token, tenant), ({ grants }) => {
          const check = grants.permissions.check(permission)
          return check._tag === "Allowed" ?
            { allowed: true, reason: `permission ${check.grant}` } :
            { allowed: false, reason: check._tag === "Denied" ? "denied_permission" : "missing_permission" }
        }),
      GetUserPermissions: ({ tenant, token }) =>
        Effect.map(grantsFor(token, tenant), ({ grants, tenant }) => ({
          tenant,
          scopes: grants.scopes.tokens,
          allow: grants.permissions.rules.allow,
          deny: grants.permissions.rules.deny
        })),
      RefreshToken: ({ refreshToken }) =>
        Effect.flatMap(
          callerClient,
          (client) =>
            service.token(client, { grant_type: "refresh_token", refresh_token: refreshToken }).pipe(
              Effect.mapError(refused)
            )
        ),
      InvalidateToken: ({ token }) =>
        Effect.flatMap(callerClient, (client) => service.revoke(client, token).pipe(Effect.mapError(refused)))
    }
  })
)
