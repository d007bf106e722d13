"""One module per pipeline stage, each with ``run(config, layout)``: read inputs, call the library, write outputs."""
