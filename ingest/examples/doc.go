// Package examples holds the external-client examples of the README (a Python
// publisher with publisher confirms and mandatory routing) and the tests that
// run them for real against the project's RabbitMQ, so that the README's
// examples cannot rot.
package examples
