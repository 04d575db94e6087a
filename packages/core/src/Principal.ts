/**
 * Who is calling: a user or a service, authenticated by a verified credential,
 * and the `CurrentUser` service that carries it through a request.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Permission from "./Permission.js"
import * as Scopes from "./Scopes.js"
import { TenantId } from "./Tenant.js"

const printable = /^[^\x00-\x1F\x7F]+$/

/**
 * What is wrong with a would-be subject or client id, as the end of a
 * sentence, or `undefined` when it is one.
 *
 * @since 0.2.0
 */
export const idProblem = (value: string): string | undefined =>
  value.length === 0 ?
    "is empty" :
    value.length > 255 ?
    "is longer than 255 characters" :
    !printable.test(value) ?
    "contains a control character" :
    undefined

/** A subject id (`sub`): 1 to 255 characters, no control characters. */
export const SubjectId = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(255),
  Schema.pattern(printable),
  Schema.brand("@warden/SubjectId")
)

/** @since 0.1.0 */
export type SubjectId = typeof SubjectId.Type

/** An OAuth client id (`client_id`): 1 to 255 characters, no control characters. */
export const ClientId = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(255),
  Schema.pattern(printable),
  Schema.brand("@warden/ClientId")
)

/** @since 0.1.0 */
export type ClientId = typeof ClientId.Type

/** How the principal was authenticated. */
export const AuthMethod = Schema.Literal("jwt", "introspection", "api_key", "mtls", "test")

/** @since 0.1.0 */
export type AuthMethod = typeof AuthMethod.Type

/** A user acting through a client, or a service acting for itself. */
export const Kind = Schema.Literal("user", "service")

/**
 * An authenticated caller. Every field comes from a verified credential.
 *
 * `tenant` is the principal's own tenant (the `tid` claim); `tenants` lists
 * every tenant the credential signs (at least `tenant`), among which a
 * request may select one.
 */
export class Principal extends Schema.Class<Principal>("@warden/Principal")({
  kind: Kind,
  subject: SubjectId,
  tenant: TenantId,
  tenants: Schema.Array(TenantId),
  clientId: Schema.NullOr(ClientId),
  issuer: Schema.String,
  tokenId: Schema.NullOr(Schema.String),
  /** When the credential expires, in epoch seconds. */
  expiresAt: Schema.NullOr(Schema.Number),
  /** When the credential was issued (`iat`), in epoch seconds; `null` when it does not say. */
  issuedAt: Schema.NullOr(Schema.Number),
  /** The service acting for the subject (RFC 8693 `act.sub`), for an exchanged token; `null` otherwise. */
  actor: Schema.NullOr(Schema.String),
  authenticatedBy: AuthMethod,
  scopes: Scopes.FromArray,
  permissions: Permission.GrantsSchema
}) {
  /** Whether the credential signs `tenant`. */
  signs(tenant: string): boolean {
    return tenant === this.tenant || this.tenants.includes(tenant as TenantId)
  }
}

/**
 * Builds a principal with defaults for what is often absent: no other
 * tenants, no client id, no token id, no expiry, no issue time, no scopes, no permissions.
 * Checks every field; throws on a malformed one (use it for code, not input).
 */
export const make = (fields: {
  readonly kind?: "user" | "service"
  readonly subject: string
  readonly tenant: string
  readonly tenants?: ReadonlyArray<string>
  readonly clientId?: string | null
  readonly issuer: string
  readonly tokenId?: string | null
  readonly expiresAt?: number | null
  readonly issuedAt?: number | null
  readonly actor?: string | null
  readonly authenticatedBy?: AuthMethod
  readonly scopes?: ReadonlyArray<string>
  readonly permissions?: Partial<Permission.Grants>
}): Principal =>
  Schema.decodeUnknownSync(Principal)({
    kind: fields.kind ?? "user",
    subject: fields.subject,
    tenant: fields.tenant,
    tenants: [...new Set([fields.tenant, ...(fields.tenants ?? [])])],
    clientId: fields.clientId ?? null,
    issuer: fields.issuer,
    tokenId: fields.tokenId ?? null,
    expiresAt: fields.expiresAt ?? null,
    issuedAt: fields.issuedAt ?? null,
    actor: fields.actor ?? null,
    authenticatedBy: fields.authenticatedBy ?? "test",
    scopes: fields.scopes ?? [],
    permissions: { allow: fields.permissions?.allow ?? [], deny: fields.permissions?.deny ?? [] }
  })

/**
 * Builds a principal from fields that were checked already, without a Schema
 * pass: what an authenticator does after checking every claim. Nothing here
 * checks the fields; use `make` anywhere else.
 *
 * @since 0.2.0
 */
export const unsafeMake = (fields: { readonly [K in keyof typeof Principal.fields]: Principal[K] }): Principal => {
  // A Schema class instance is its fields on the class's prototype (`Data.Class`); the constructor would copy
  // the fields twice and look for defaults the class does not declare. Assigned one by one, in the class's order,
  // every principal has the same shape, and no generic copy runs.
  const principal = Object.create(Principal.prototype) as { -readonly [K in keyof typeof fields]: Principal[K] }
  principal.kind = fields.kind
  principal.subject = fields.subject
  principal.tenant = fields.tenant
  principal.tenants = fields.tenants
  principal.clientId = fields.clientId
  principal.issuer = fields.issuer
  principal.tokenId = fields.tokenId
  principal.expiresAt = fields.expiresAt
  principal.issuedAt = fields.issuedAt
  principal.actor = fields.actor
  principal.authenticatedBy = fields.authenticatedBy
  principal.scopes = fields.scopes
  principal.permissions = fields.permissions
  return principal as Principal
}

/**
 * The authenticated caller of the current request. Provided only by
 * `Authentication` (in `@warden/rpc`).
 */
export class CurrentUser extends Context.Tag("@warden/core/CurrentUser")<CurrentUser, Principal>() {}
