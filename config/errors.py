"""The 405 a browser gets when someone opens an action's address (promote, cancel, pause, log out):
Django's `require_POST` answers an empty page; this middleware turns it into the site's page saying
which method the address takes and linking back. Under /api/ the answer is the API's JSON error
shape (DRF views already answer so; this covers any plain Django view mounted there).
"""
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme


def _way_back(request) -> str:
    """The page the visitor came from on this site, else the nearest page above the address, else home."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return referer
    parts = request.path.strip("/").split("/")
    for end in range(len(parts) - 1, 0, -1):
        parent = "/" + "/".join(parts[:end]) + "/"
        try:
            resolve(parent, getattr(request, "urlconf", None))
        except Resolver404:
            continue
        return parent
    return reverse("home")


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not isinstance(response, HttpResponseNotAllowed) or response.content:
            return response
        allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
        if request.path.startswith("/api/"):
            page = JsonResponse({"error": {"code": "method_not_allowed",
                                           "message": f'Method "{request.method}" not allowed.'}}, status=405)
        else:
            page = render(request, "405.html", {"allowed": allowed, "method": request.method,
                                                "back": _way_back(request)}, status=405)
        page["Allow"] = response["Allow"]
        return page
