/**
 * The protected-header members Warden or jose reads when verifying a compact
 * JWS, and the JSON type each must have. Checked before anything looks at
 * them, so no later code meets a member of another type: `alg`, `kid`, `typ`
 * and `cty` are strings, `crit` an array of non-empty strings (RFC 7515
 * §4.1), and `b64` (RFC 7797) is absent or `true`, since a JWT's payload is
 * always base64url-encoded. Members Warden never reads (`jwk`, `jku`, `x5u`,
 * `x5c`, ...) are left alone: keys come only from the key set.
 */
import type { UnauthenticatedReason } from "@warden/core/AuthError"

export interface Problem {
  readonly reason: UnauthenticatedReason
  readonly description: string
}

const string = (value: unknown) => typeof value === "string"

const members: ReadonlyArray<readonly [member: string, fits: (value: unknown) => boolean, expected: string]> = [
  ["alg", string, "a string"],
  ["kid", string, "a string"],
  ["typ", string, "a string"],
  ["cty", string, "a string"],
  [
    "crit",
    (value) => Array.isArray(value) && value.every((c) => typeof c === "string" && c.length > 0),
    "an array of non-empty strings"
  ],
  ["b64", (value) => value === true, "true when present: payloads must be base64url-encoded"]
]

/** The first member of the wrong type, as a refusal; `undefined` when every member read has its type. */
export const check = (header: Readonly<Record<string, unknown>>): Problem | undefined => {
  for (const [member, fits, expected] of members) {
    const value = header[member]
    if (value !== undefined && !fits(value)) {
      return {
        // An `alg` that is not a string is an algorithm Warden does not accept, as a missing one is.
        reason: member === "alg" ? "algorithm" : "malformed",
        description: `the token's '${member}' header must be ${expected}`
      }
    }
  }
  return undefined
}
