"""Users, sign-in, sessions and passwords (用户登录, 修改密码), and who may do what (permissions.py)."""
