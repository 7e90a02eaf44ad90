"""Analytics over the published tables: the marts, the report, its charts and map."""
