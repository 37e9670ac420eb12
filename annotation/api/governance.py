"""Governance API for project admins: webhooks (list, add, delete, send a test, delivery log) and the
audit trail (read only: there is no write endpoint, by design)."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.models import AuditEvent, Webhook, WebhookDelivery
from annotation.permissions import MANAGE_ROLES
from annotation.selectors.audit import audit_events
from annotation.services.webhooks import (SUBSCRIBABLE, WebhookError, webhook_create, webhook_delete,
                                          webhook_send_test, webhook_update)

from .common import DateRangeIn, IdCursorPagination, InvalidInput, ProjectScopedMixin, validated


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "secret", "created_at"]


class WebhookIn(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) URL of a public host.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False,
                                   help_text="Events to send; empty or absent means every event.")


class WebhookPatchIn(serializers.Serializer):
    active = serializers.BooleanField(required=False, help_text="false pauses the webhook.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False)


class WebhookDeliveryOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "webhook", "event", "event_id", "attempt", "status", "response_code", "error", "will_retry",
                  "payload", "created_at", "due_at", "sent_at", "finished_at"]


class AuditEventOut(serializers.ModelSerializer):
    user = serializers.CharField(source="username")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "user", "action", "project", "target_type", "target_id", "detail"]


class AuditFilterIn(DateRangeIn):
    action = serializers.CharField(max_length=64, required=False,
                                   help_text='An action ("model.promoted"), or a prefix ending in "." ("model.").')
    user = serializers.CharField(max_length=150, required=False, help_text="The acting user's username.")


class _AdminApi(ProjectScopedMixin, generics.GenericAPIView):
    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES

    def get_webhook(self) -> Webhook:
        return get_object_or_404(Webhook, pk=self.kwargs["webhook_id"], project=self.get_project())


class WebhookListCreateApi(_AdminApi):
    """The project's webhooks (project admins); POST adds one and returns its signing secret."""

    serializer_class = WebhookOut
    pagination_class = None

    @extend_schema(responses=WebhookOut(many=True), summary="Webhooks of the project")
    def get(self, request, project_id):
        return Response(WebhookOut(self.get_project().webhooks.all(), many=True).data)

    @extend_schema(request=WebhookIn, responses={201: WebhookOut}, summary="Add a webhook")
    def post(self, request, project_id):
        data = validated(WebhookIn, request.data)
        try:
            hook = webhook_create(project=self.get_project(), url=data["url"], events=data.get("events", []),
                                  user=request.user)
        except WebhookError as exc:
            raise InvalidInput(str(exc))
        return Response(WebhookOut(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(_AdminApi):
    serializer_class = WebhookOut

    def get_object(self):
        return self.get_webhook()

    @extend_schema(responses=WebhookOut, summary="One webhook")
    def get(self, request, project_id, webhook_id):
        return Response(WebhookOut(self.get_webhook()).data)

    @extend_schema(request=WebhookPatchIn, responses=WebhookOut, summary="Pause or resume a webhook, or change its events")
    def patch(self, request, project_id, webhook_id):
        data = validated(WebhookPatchIn, request.data)
        return Response(WebhookOut(webhook_update(webhook=self.get_webhook(), user=request.user, **data)).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook (and its delivery log)")
    def delete(self, request, project_id, webhook_id):
        webhook_delete(webhook=self.get_webhook(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestApi(_AdminApi):
    """Queues a webhook.test event to this webhook; poll its deliveries for the outcome."""

    serializer_class = WebhookDeliveryOut

    @extend_schema(request=None, responses={202: WebhookDeliveryOut}, summary="Send a test event")
    def post(self, request, project_id, webhook_id):
        delivery = webhook_send_test(webhook=self.get_webhook(), user=request.user)
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(_AdminApi):
    """Every attempt to deliver to this webhook (oldest first, paginated)."""

    serializer_class = WebhookDeliveryOut
    pagination_class = IdCursorPagination

    @extend_schema(responses=WebhookDeliveryOut(many=True), summary="Delivery log of a webhook")
    def get(self, request, project_id, webhook_id):
        page = self.paginate_queryset(WebhookDelivery.objects.filter(webhook=self.get_webhook()))
        return self.get_paginated_response(WebhookDeliveryOut(page, many=True).data)


class AuditEventListApi(_AdminApi):
    """The project's audit trail (project admins; read only), filtered by action, user and dates."""

    serializer_class = AuditEventOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[AuditFilterIn], responses=AuditEventOut(many=True), summary="Audit trail")
    def get(self, request, project_id):
        query = self.filters(AuditFilterIn)
        rows = audit_events(project=self.get_project(), action=query.get("action"), username=query.get("user"),
                            since=query.get("since"), until=query.get("until"))
        page = self.paginate_queryset(rows.order_by())
        return self.get_paginated_response(AuditEventOut(page, many=True).data)
