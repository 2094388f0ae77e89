"""Forms for login, passwords, users and roles."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from .permissions import all_permissions

MIN_PASSWORD = 8


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=256)])
    confirm = PasswordField("Repeat new password", validators=[EqualTo("new_password", "Passwords differ")])


class UserForm(FlaskForm):
    username = StringField("Username", validators=[
        DataRequired(), Length(max=64),
        Regexp(r"^[A-Za-z0-9_.@-]+$", message="Letters, digits and _ . @ - only")])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=256)])
    roles = SelectMultipleField("Roles", coerce=int)
    must_change_password = BooleanField("Must change password at first login", default=True)


class EditUserForm(FlaskForm):
    roles = SelectMultipleField("Roles", coerce=int)


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=256)])


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes; values outside the choices fail validation."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RoleForm(FlaskForm):
    permissions = MultiCheckboxField("Permissions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.permissions.choices = [SelectChoice(k, v) for k, v in all_permissions().items()]
