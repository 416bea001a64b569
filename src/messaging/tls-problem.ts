// TLS connect failures said in gofer's terms, shared by the AMQP 0-9-1 (amqplib) and 1.0 (rhea)
// adapters: both dial with Node's tls module, so both see the same error codes.

/** Node's codes for the broker's certificate failing verification against cacert (or the default CAs). */
const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE'])

/**
 * A TLS failure said in terms of gofer's settings, with Node's reason in parentheses; null when
 * `err` is no TLS failure. Needed because Node passes OpenSSL's text through (source file names
 * and all), and "alert certificate required" does not say that it is the client's that is missing.
 */
export function tlsProblem(err: unknown, host: string): string | null {
  const { code, reason, message } = (err ?? {}) as { code?: string; reason?: string; message?: string }
  // For a host-name mismatch Node's message (naming the certificate's names) says more than its reason.
  const why = ((code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? message : reason ?? message) ?? '').trim()
  let what: string | null = null
  if (code && UNTRUSTED.has(code)) what = "the broker's certificate is not signed by a trusted CA (cacert)"
  else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') what = "the broker's certificate is not valid now"
  else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') what = `the broker's certificate is not issued to ${host} (host_validation)`
  else if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') what = 'the broker requires a client certificate (clientcert, clientkey)'
  else if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA') what = 'the broker does not trust the client certificate (unknown CA)'
  else if (code?.startsWith('ERR_SSL_')) what = 'TLS handshake failed'
  return what && `TLS: ${what} (${why})`
}
