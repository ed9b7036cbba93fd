// Metric names that more than one component relies on: the producer registers it, another reads it (the heartbeat
// forwards it to monitoring's alert rules, the Prometheus rules and Grafana query it). Declared once here.

/** Inference: seconds between two streamed tokens of one request, histogram labelled by model. */
export const INFERENCE_INTER_TOKEN_SECONDS = 'sovren_inference_inter_token_seconds';
