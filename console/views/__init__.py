"""Console views: staff-only function views that parse input, call one service or selector, and render a
full page or, for an htmx request, the named partial of the same template."""
