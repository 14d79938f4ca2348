"""dataenv API: a small FastAPI service over the bundled sales data."""
