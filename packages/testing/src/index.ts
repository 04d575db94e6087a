/**
 * Warden's test kit.
 *
 * @since 0.1.0
 */
export {}
