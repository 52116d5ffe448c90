"""The JSON API: views.py (endpoints), openapi.py (its OpenAPI document)."""
