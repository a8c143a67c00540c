"""Names of the Kafka (and HTTP) headers every Tyndau event carries, in one place: producers
set them (services.common.messaging), the logging middleware reads them (services.common.logs),
and channels may send the correlation id on the HTTP gateway."""

CORRELATION_HEADER = "x-correlation-id"
EVENT_TYPE_HEADER = "x-event-type"
EVENT_ID_HEADER = "x-event-id"
TRACEPARENT_HEADER = "traceparent"  # W3C trace context
