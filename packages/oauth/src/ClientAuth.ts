/**
 * How a client authenticates to the authorization server's endpoints
 * (RFC 6749 §2.3.1): HTTP Basic (`client_secret_basic`) or form parameters
 * (`client_secret_post`). The secret is `Redacted` and never logged.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"

/** A confidential client's credentials. */
export interface ClientAuth {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** Default `client_secret_basic`. */
  readonly method?: "client_secret_basic" | "client_secret_post"
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
const formEncode = (value: string): string => encodeURIComponent(value).replace(/%20/g, "+")

/** The header and form parameters that authenticate the client. */
export const apply = (
  auth: ClientAuth
): { readonly headers: Readonly<Record<string, string>>; readonly params: Readonly<Record<string, string>> } =>
  auth.method === "client_secret_post" ?
    { headers: {}, params: { client_id: auth.clientId, client_secret: Redacted.value(auth.clientSecret) } } :
    {
      headers: {
        authorization: `Basic ${
          Buffer.from(`${formEncode(auth.clientId)}:${formEncode(Redacted.value(auth.clientSecret))}`).toString(
            "base64"
          )
        }`
      },
      params: {}
    }

/** RFC 6749 Appendix B: `+` is a space, then percent-decoding; `undefined` for a malformed escape. */
const formDecode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/**
 * The client id and secret of an HTTP Basic `authorization` header, the
 * authorization server's side of `apply` (RFC 6749 §2.3.1): `undefined`
 * unless the header is well-formed Basic credentials.
 *
 * @since 0.3.0
 */
export const fromBasic = (
  authorization: string
): { readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> } | undefined => {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
  if (match === null) return undefined
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return undefined
  const clientId = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  return clientId === undefined || secret === undefined ? undefined : { clientId, clientSecret: Redacted.make(secret) }
}
