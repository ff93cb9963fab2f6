// placeholder until the tracer lands
