"""app room: the API's routes, one module per resource, each an APIRouter; `install_routes` adds
them to the application.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from . import health, inquiries, metrics, shipments

# In this order: it is the order of the operations in the OpenAPI document.
ROUTERS: tuple[APIRouter, ...] = (health.router, metrics.router, shipments.router, inquiries.router)


def install_routes(app: FastAPI) -> None:
    """Add a route to the application's own router for each route of ROUTERS, in order."""
    # Not app.include_router: this FastAPI includes a router lazily, as one nested route that matches
    # every request again before its own routes do. Copied (as include_router used to), the
    # application's routes stay plain APIRoutes made by its router: one match per request, the
    # application as their dependency-overrides provider, and the route list hotpath.py labels the
    # requests it serves from.
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r}: the routers hold path operations only")
            app.router.add_api_route(
                route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                route_class_override=type(route),
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
                strict_content_type=route.strict_content_type,
            )
