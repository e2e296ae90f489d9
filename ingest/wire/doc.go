// Package wire owns how flight events travel in AMQP message bodies: one event
// as JSON, or many as an Arrow IPC stream, told apart by the content type. Every
// decoder validates every field and names the field and the reason when it
// refuses a message; none of them panics, whatever the bytes.
package wire
