"""Members of a project and their roles (project admins): list, add (optionally creating the user,
whose password is returned once), change a member's role, remove. A project always keeps an admin."""
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import MANAGE_ROLES
from annotation.selectors.manage import members_list
from annotation.services import projects

from .common import Conflict, InvalidInput, ProjectScopedMixin, validated

User = get_user_model()


class MemberOut(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Membership.Role.choices))


class MemberAddIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    create_user = serializers.BooleanField(default=False, help_text="Create the user if there is none; the "
                                                                    "response carries their password, once.")


class MemberAddOut(MemberOut):
    password = serializers.CharField(allow_null=True, help_text="The new user's password (only here, only once); "
                                                                "null when the user existed.")


class MemberRoleIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, help_text="The member's only role from now on.")


def _member_row(project, user) -> dict:
    return next(row for row in members_list(project=project) if row["user_id"] == user.pk)


def _service(call, **kwargs):
    try:
        return call(**kwargs)
    except projects.LastAdmin as exc:
        raise Conflict(str(exc))
    except projects.UnknownUser as exc:
        raise InvalidInput(f"username: no user named {exc.username!r}; send \"create_user\": true to create one.")
    except ValueError as exc:
        raise InvalidInput(str(exc))


class MemberListAddApi(ProjectScopedMixin, GenericAPIView):
    """The project's members with their roles; add one (project admins)."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    serializer_class = MemberOut

    @extend_schema(responses=MemberOut(many=True), summary="Members and their roles")
    def get(self, request, project_id):
        return Response(MemberOut(members_list(project=self.get_project()), many=True).data)

    @extend_schema(request=MemberAddIn, responses={201: MemberAddOut}, summary="Give a user a role")
    def post(self, request, project_id):
        data = validated(MemberAddIn, request.data)
        project = self.get_project()
        membership, password = _service(projects.member_add, project=project, actor=request.user, **data)
        body = {**_member_row(project, membership.user), "password": password}
        response = Response(MemberAddOut(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class MemberDetailApi(ProjectScopedMixin, GenericAPIView):
    """One member: change their role (PATCH) or remove them (DELETE; `?role=` removes only that role)."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    serializer_class = MemberOut

    def get_member(self):
        return get_object_or_404(User.objects.filter(memberships__project=self.get_project()).distinct(),
                                 pk=self.kwargs["user_id"])

    @extend_schema(request=MemberRoleIn, responses=MemberOut, summary="Change a member's role")
    def patch(self, request, project_id, user_id):
        data = validated(MemberRoleIn, request.data)
        user = self.get_member()
        _service(projects.membership_set_role, project=self.get_project(), user=user, role=data["role"],
                 actor=request.user)
        return Response(MemberOut(_member_row(self.get_project(), user)).data)

    @extend_schema(parameters=[OpenApiParameter("role", str, enum=Membership.Role.values,
                                                description="Remove only this role.")],
                   responses={204: None}, summary="Remove a member (or one of their roles)")
    def delete(self, request, project_id, user_id):
        role = request.query_params.get("role") or None
        if role is not None and role not in Membership.Role.values:
            raise InvalidInput(f"role: must be one of {', '.join(Membership.Role.values)}.")
        _service(projects.membership_remove, project=self.get_project(), user=self.get_member(), role=role,
                 actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
