from services.common.serve import serve
from services.routing.app import create_app

serve("routing", create_app)
