// Package quarantine owns the one format of a quarantined message: a message
// that cannot be decoded is kept aside with its partition, offset, reason and
// (bounded) body instead of stopping the consumer. The speed layer and the
// archiver each keep a Redis list of such entries (their own key), in this
// JSON format: {"partition","offset","reason","body" (base64, so that binary
// Arrow bodies survive),"at" (RFC 3339)}.
package quarantine
