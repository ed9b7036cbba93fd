// REST resource /api/v1/organizations: translate HTTP to OrganizationsService calls.
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthRoute } from '@sovren/auth-guard';
import { Organization } from '@sovren/database';

import { CreateOrganizationDto } from './dtos/create-organization.dto';
import { OrganizationResponse } from './dtos/organization.responses';
import { UpdateOrganizationDto } from './dtos/update-organization.dto';
import { AUTH_ROUTE_CLASS } from '../sessions/sessions.controller';
import { OrganizationsService } from './organizations.service';

/** Platform administration: only the admin role manages organizations. */
@ApiTags('organizations')
@Controller('api/v1/organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an organization' })
  @ApiCreatedResponse({ description: 'The new organization.', type: OrganizationResponse })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, roles: ['admin'], scopes: ['organizations:write'] })
  create(@Body() dto: CreateOrganizationDto): Promise<Organization> {
    return this.organizations.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List organizations' })
  @ApiOkResponse({ description: 'Every organization.', type: [OrganizationResponse] })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, roles: ['admin'], scopes: ['organizations:read'] })
  list(): Promise<Organization[]> {
    return this.organizations.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read one organization' })
  @ApiOkResponse({ description: 'The organization.', type: OrganizationResponse })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, roles: ['admin'], scopes: ['organizations:read'] })
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<Organization> {
    return this.organizations.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename an organization (optimistic locking on version)' })
  @ApiOkResponse({ description: 'The updated organization.', type: OrganizationResponse })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, roles: ['admin'], scopes: ['organizations:write'] })
  update(@Param('id', new ParseUUIDPipe()) id: string, @Body() dto: UpdateOrganizationDto): Promise<Organization> {
    return this.organizations.update(id, dto);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an organization (soft delete)' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @HttpCode(HttpStatus.NO_CONTENT)
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, roles: ['admin'], scopes: ['organizations:write'] })
  remove(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.organizations.remove(id);
  }
}
