/**
 * Tenants: the id type, and the `CurrentTenant` service that only Warden's
 * `TenantContext` middleware provides.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"

/**
 * A tenant id as it appears in a signed claim: 1 to 128 characters of
 * letters, digits, `.`, `_` and `-`, starting with a letter or digit.
 * Compared exactly: `Acme` and `acme` are different tenants.
 */
export const TenantId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
    message: () => "a tenant id is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.brand("@warden/TenantId")
)

/** @since 0.1.0 */
export type TenantId = typeof TenantId.Type

/** Decodes an unknown value into a `TenantId`, as `Option`. */
export const decodeOption = Schema.decodeUnknownOption(TenantId)

/**
 * The tenant of the current request, taken from the verified credentials.
 * Provided only by `TenantContext` (in `@warden/rpc`); a handler that needs it
 * does not compile unless its procedure is protected.
 */
export class CurrentTenant extends Context.Tag("@warden/core/CurrentTenant")<CurrentTenant, TenantId>() {}
