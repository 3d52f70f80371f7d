"""The embedded local AWS stack: moto's server (with a Kinesis performance patch) on loopback,
plus the streams, bucket and table every component expects."""
